//! `tokio_tungstenite::deflate`: the process-wide policy (its own test
//! binary, as it changes a global).

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::deflate::{self, DeflateConfig};
use tokio_tungstenite::tungstenite::Message;

async fn echo_once(l: &TcpListener) {
    let (tcp, _) = l.accept().await.unwrap();
    let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
    while let Some(Ok(m)) = ws.next().await {
        if m.is_text() {
            ws.send(m).await.unwrap();
        }
    }
}

async fn negotiated(url: &str, l: &TcpListener) -> Option<String> {
    let (client, server) = tokio::join!(
        async {
            let (mut ws, resp) = tokio_tungstenite::connect_async(url).await.unwrap();
            ws.send(Message::text("x".repeat(1000))).await.unwrap();
            assert_eq!(
                ws.next().await.unwrap().unwrap(),
                Message::text("x".repeat(1000))
            );
            ws.close(None).await.unwrap();
            while ws.next().await.is_some() {}
            resp.headers()
                .get("sec-websocket-extensions")
                .map(|v| v.to_str().unwrap().to_owned())
        },
        echo_once(l)
    );
    let () = server;
    client
}

#[tokio::test]
async fn policy_on_off_and_custom() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", l.local_addr().unwrap());
    assert_eq!(deflate::current(), Some(DeflateConfig::default()));
    assert_eq!(
        negotiated(&url, &l).await.as_deref(),
        Some("permessage-deflate")
    );

    deflate::set(None).unwrap();
    assert_eq!(deflate::current(), None);
    assert_eq!(negotiated(&url, &l).await, None);

    let cfg = DeflateConfig::default().with_server_no_context_takeover(true);
    deflate::set(Some(cfg.clone())).unwrap();
    assert_eq!(deflate::current(), Some(cfg));
    let ext = negotiated(&url, &l).await.unwrap();
    assert!(ext.contains("server_no_context_takeover"), "{ext}");
}
