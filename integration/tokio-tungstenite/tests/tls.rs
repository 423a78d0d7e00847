//! `wss://`: `connect_async_tls_with_config` with a rustls `Connector` and
//! `client_async_tls_with_config`, against a server that accepts TLS and
//! then `accept_async`s the TLS stream, with permessage-deflate.

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{
    accept_async, client_async_tls_with_config, connect_async_tls_with_config, Connector,
    MaybeTlsStream,
};

async fn tls_echo_server() -> (u16, String) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_pem = ck.cert.pem();
    let acceptor = wsx::tls::acceptor_from_pem(
        cert_pem.as_bytes(),
        ck.signing_key.serialize_pem().as_bytes(),
    )
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let tls = acceptor.accept(tcp).await.unwrap();
                let mut ws = accept_async(tls).await.unwrap();
                while let Some(Ok(m)) = ws.next().await {
                    if m.is_text() || m.is_binary() {
                        ws.send(m).await.unwrap();
                    }
                }
            });
        }
    });
    (port, cert_pem)
}

#[tokio::test]
async fn wss_with_a_rustls_connector() {
    let (port, cert_pem) = tls_echo_server().await;
    let roots = wsx::TlsConnector::with_root_ca_pem(cert_pem.as_bytes())
        .unwrap()
        .rustls_config();
    let url = format!("wss://localhost:{port}/");

    let (mut ws, resp) =
        connect_async_tls_with_config(&url, None, true, Some(Connector::Rustls(roots.clone())))
            .await
            .unwrap();
    assert!(ws.get_ref().is_tls());
    assert!(resp.headers()["sec-websocket-extensions"]
        .to_str()
        .unwrap()
        .starts_with("permessage-deflate"));
    let big = Message::text("over TLS and compressed ".repeat(5000));
    ws.send(big.clone()).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), big);
    ws.close(None).await.unwrap();
    while ws.next().await.is_some() {}

    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (mut ws, _) = client_async_tls_with_config(&url, tcp, None, Some(Connector::Rustls(roots)))
        .await
        .unwrap();
    assert!(matches!(ws.get_ref(), MaybeTlsStream::Tls(_)));
    ws.send(Message::binary(vec![9; 10_000])).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::binary(vec![9; 10_000])
    );

    // The default connector (webpki roots) refuses the self-signed server.
    assert!(tokio_tungstenite::connect_async(&url).await.is_err());
}
