//! The examples in `examples/`, run as they are: each server on loopback,
//! our client against it with permessage-deflate.

#[allow(dead_code)]
#[path = "../examples/axum_server.rs"]
mod axum_server;
#[allow(dead_code)]
#[path = "../examples/tungstenite_server.rs"]
mod tungstenite_server;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wsx::{ClientConfig, Message};

/// wsx's default client: offers permessage-deflate.
fn client_config() -> ClientConfig {
    ClientConfig::default()
}

/// Connect with deflate, check the negotiation and an echo (compressible
/// and not), close cleanly.
async fn check_echo(url: &str) {
    let (mut ws, resp) = wsx::connect_with(url, &client_config()).await.unwrap();
    let header = resp.headers()["sec-websocket-extensions"].to_str().unwrap();
    assert!(header.starts_with("permessage-deflate"), "{header}");
    assert_eq!(ws.extensions(), Some(header));
    let big = "the same words again and again ".repeat(4000);
    for msg in [
        Message::text("hello"),
        Message::text(big),
        Message::binary((0..=255u8).cycle().take(70_000).collect::<Vec<u8>>()),
        Message::binary(Vec::new()),
    ] {
        ws.send(msg.clone()).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), msg);
    }
    ws.close().await.unwrap();
    assert!(matches!(ws.next().await, Some(Ok(Message::Close(Some(_))))));
    assert!(ws.next().await.is_none());
}

#[tokio::test]
async fn axum_example_negotiates_deflate_and_echoes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(
        async move { axum::serve(listener, axum_server::app(axum_server::config())).await },
    );
    check_echo(&format!("ws://127.0.0.1:{port}/ws")).await;
    // Several connections at once.
    let url = format!("ws://127.0.0.1:{port}/ws");
    let a = tokio::spawn({
        let url = url.clone();
        async move { check_echo(&url).await }
    });
    check_echo(&url).await;
    a.await.unwrap();

    // A plain GET on the WebSocket route is answered with wsx's 400, and
    // the rest of the app still works.
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    tcp.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("Upgrade: websocket"), "{answer}");
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("hello from axum"), "{answer}");
}

#[tokio::test]
async fn tungstenite_style_example_negotiates_deflate_and_echoes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(tungstenite_server::serve(listener));
    check_echo(&format!("ws://127.0.0.1:{port}/")).await;
    // Without an offer, nothing is negotiated and messages still echo.
    let plain = ClientConfig::default().without_extensions();
    let (mut ws, _) = wsx::connect_with(&format!("ws://127.0.0.1:{port}/"), &plain)
        .await
        .unwrap();
    assert_eq!(ws.extensions(), None);
    ws.send(Message::text("plain")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("plain"));
}
