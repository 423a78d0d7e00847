//! `wsx::hyper` with a hyper 1 server (`http1` + `TokioIo`), in the shape
//! hyper-tungstenite users know, and a wsx client offering
//! permessage-deflate.
#![cfg(feature = "hyper")]

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use ws_deflate::{DeflateConfig, PerMessageDeflateClient, PerMessageDeflateServer};
use ws_ext_core::{ClientNegotiator, ServerNegotiator};
use wsx::{ClientConfig, Message, ServerConfig};

async fn handle(
    mut req: Request<Incoming>,
    config: Arc<ServerConfig>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if !wsx::hyper::is_upgrade_request(&req) {
        return Ok(Response::new(Full::new(Bytes::from("plain HTTP"))));
    }
    match wsx::hyper::upgrade(&mut req, &config) {
        Ok((response, websocket)) => {
            tokio::spawn(async move {
                let Ok(mut ws) = websocket.await else { return };
                while let Some(Ok(msg)) = ws.next().await {
                    if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
                        break;
                    }
                }
            });
            Ok(response)
        }
        Err(e) => {
            let status = match &e {
                wsx::Error::Handshake(h) => h.status(),
                _ => wsx::StatusCode::INTERNAL_SERVER_ERROR,
            };
            let mut response = Response::new(Full::new(Bytes::from(e.to_string())));
            *response.status_mut() = status;
            Ok(response)
        }
    }
}

async fn serve() -> u16 {
    let pmd = PerMessageDeflateServer::try_new(DeflateConfig::default()).unwrap();
    let config = Arc::new(
        ServerConfig::default()
            .with_extensions(ServerNegotiator::new().with(pmd))
            .with_subprotocols(vec!["chat".into()]),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let config = config.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| handle(req, config.clone()));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    port
}

#[tokio::test]
async fn echo_with_deflate_and_subprotocol() {
    let port = serve().await;
    let pmd = PerMessageDeflateClient::try_new(DeflateConfig::default()).unwrap();
    let client = ClientConfig::default()
        .with_extensions(ClientNegotiator::new().with(pmd))
        .with_subprotocols(vec!["chat".into()]);
    let (mut ws, resp) = wsx::connect_with(&format!("ws://127.0.0.1:{port}/"), &client)
        .await
        .unwrap();
    let ext = resp.headers()["sec-websocket-extensions"].to_str().unwrap();
    assert!(ext.starts_with("permessage-deflate"), "{ext}");
    assert_eq!(ws.protocol(), Some("chat"));
    for msg in [
        Message::text("hello"),
        Message::text("again and again ".repeat(5000)),
        Message::binary((0..=255u8).cycle().take(70_000).collect::<Vec<u8>>()),
    ] {
        ws.send(msg.clone()).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), msg);
    }
    ws.send(Message::Ping("p".into())).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::Pong("p".into()));
    ws.close().await.unwrap();
    assert!(matches!(ws.next().await, Some(Ok(Message::Close(_)))));
    assert!(ws.next().await.is_none());
}

async fn raw(port: u16, request: &str) -> String {
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test]
async fn plain_and_invalid_requests() {
    let port = serve().await;
    let answer = raw(
        port,
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("plain HTTP"), "{answer}");
    // An upgrade request without a key: wsx's 400.
    let answer = raw(
        port,
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade, close\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
}

#[test]
fn is_upgrade_request_and_missing_upgrade_state() {
    let req = |connection: &str, upgrade: &str| {
        Request::builder()
            .uri("/")
            .header("connection", connection)
            .header("upgrade", upgrade)
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("sec-websocket-version", "13")
            .header("host", "x")
            .body(())
            .unwrap()
    };
    assert!(wsx::hyper::is_upgrade_request(&req("Upgrade", "websocket")));
    assert!(wsx::hyper::is_upgrade_request(&req(
        "keep-alive, upgrade",
        "WebSocket"
    )));
    assert!(!wsx::hyper::is_upgrade_request(&req(
        "keep-alive",
        "websocket"
    )));
    assert!(!wsx::hyper::is_upgrade_request(&req("upgrade", "h2c")));
    assert!(!wsx::hyper::is_upgrade_request(&Request::new(())));
    // Valid, but not from a hyper connection: no upgrade state.
    let mut valid = req("upgrade", "websocket");
    assert!(matches!(
        wsx::hyper::upgrade(&mut valid, &ServerConfig::default()),
        Err(wsx::Error::Handshake(_))
    ));
}
