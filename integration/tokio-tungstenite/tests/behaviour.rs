//! tokio-tungstenite's contract beyond the happy path: configuration, the
//! error variants tungstenite reports, subprotocols through the callback,
//! connections without a handshake.

// tungstenite's `Callback` returns its `ErrorResponse` by value.
#![allow(clippy::result_large_err)]

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::{CapacityError, ProtocolError, UrlError};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::{
    accept_async, accept_async_with_config, accept_hdr_async, client_async, connect_async,
    WebSocketStream,
};

async fn listener() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", l.local_addr().unwrap());
    (l, url)
}

#[tokio::test]
async fn max_message_size_fails_with_capacity_and_1009() {
    let (l, url) = listener().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = l.accept().await.unwrap();
        let config = WebSocketConfig::default().max_message_size(Some(1000));
        let mut ws = accept_async_with_config(tcp, Some(config)).await.unwrap();
        assert_eq!(ws.get_config().max_message_size, Some(1000));
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("small"));
        match ws.next().await {
            Some(Err(Error::Capacity(CapacityError::MessageTooLong { max_size, .. }))) => {
                assert_eq!(max_size, 1000)
            }
            other => panic!("expected Capacity(MessageTooLong), got {other:?}"),
        }
        assert!(ws.next().await.is_none());
    });
    let (mut ws, _) = connect_async(&url).await.unwrap();
    ws.send(Message::text("small")).await.unwrap();
    ws.send(Message::binary(vec![b'x'; 2000])).await.unwrap();
    match ws.next().await {
        Some(Ok(Message::Close(Some(f)))) => assert_eq!(f.code, CloseCode::Size),
        other => panic!("expected close 1009, got {other:?}"),
    }
    server.await.unwrap();
}

/// Send `request` to `accept_async`: the server's error and the answer.
async fn refused(request: &'static [u8]) -> (Result<(), Error>, String) {
    let (l, url) = listener().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = l.accept().await.unwrap();
        accept_async(tcp).await.map(|_| ())
    });
    let mut tcp = TcpStream::connect(url.trim_start_matches("ws://"))
        .await
        .unwrap();
    tcp.write_all(request).await.unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    (server.await.unwrap(), answer)
}

#[tokio::test]
async fn invalid_requests_are_refused_with_tungstenites_variants() {
    let (err, answer) = refused(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        matches!(
            err,
            Err(Error::Protocol(
                ProtocolError::MissingConnectionUpgradeHeader
            ))
        ),
        "{err:?}"
    );
    let (err, _) =
        refused(b"POST / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
            .await;
    assert!(
        matches!(err, Err(Error::Protocol(ProtocolError::WrongHttpMethod))),
        "{err:?}"
    );
    let (err, answer) = refused(
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\
          Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 426"), "{answer}");
    assert!(
        matches!(
            err,
            Err(Error::Protocol(
                ProtocolError::MissingSecWebSocketVersionHeader
            ))
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn wrong_accept_key_and_bad_urls_fail_as_in_tungstenite() {
    let (l, url) = listener().await;
    tokio::spawn(async move {
        let (mut tcp, _) = l.accept().await.unwrap();
        let mut buf = vec![0; 4096];
        let _ = tcp.read(&mut buf).await.unwrap();
        tcp.write_all(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
        )
        .await
        .unwrap();
    });
    match connect_async(&url).await {
        Err(Error::Protocol(ProtocolError::SecWebSocketAcceptKeyMismatch)) => {}
        other => panic!("{:?}", other.map(|(_, r)| r)),
    }
    match connect_async("http://127.0.0.1:1/").await {
        Err(Error::Url(UrlError::UnsupportedUrlScheme)) => {}
        other => panic!("{:?}", other.map(|(_, r)| r)),
    }
    match connect_async("ws://").await {
        Err(Error::Url(_)) | Err(Error::HttpFormat(_)) => {}
        other => panic!("{:?}", other.map(|(_, r)| r)),
    }
}

#[tokio::test]
async fn reset_and_unmasked_frame_are_protocol_errors() {
    let (l, url) = listener().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = l.accept().await.unwrap();
        let mut ws = accept_async(tcp).await.unwrap();
        ws.next().await
    });
    let tcp = TcpStream::connect(url.trim_start_matches("ws://"))
        .await
        .unwrap();
    let (ws, _) = client_async(format!("{url}/"), tcp).await.unwrap();
    drop(ws);
    match server.await.unwrap() {
        // Dropping the client without a close is a reset.
        Some(Err(Error::Protocol(ProtocolError::ResetWithoutClosingHandshake))) => {}
        other => panic!("{other:?}"),
    }

    let (l, url) = listener().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = l.accept().await.unwrap();
        let mut ws = WebSocketStream::from_raw_socket(tcp, Role::Server, None).await;
        ws.next().await
    });
    let mut tcp = TcpStream::connect(url.trim_start_matches("ws://"))
        .await
        .unwrap();
    tcp.write_all(&[0x81, 0x02, b'h', b'i']).await.unwrap();
    // No closing handshake from this peer: end the byte stream instead.
    tcp.shutdown().await.unwrap();
    match server.await.unwrap() {
        Some(Err(Error::Protocol(ProtocolError::UnmaskedFrameFromClient))) => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn callback_chooses_the_subprotocol_and_a_2xx_refusal_is_an_error() {
    let (l, url) = listener().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = l.accept().await.unwrap();
        let cb = |req: &Request, mut resp: Response| {
            let offered = req.headers()["sec-websocket-protocol"].to_str().unwrap();
            assert_eq!(offered, "chat, superchat");
            resp.headers_mut()
                .insert("sec-websocket-protocol", "superchat".parse().unwrap());
            Ok(resp)
        };
        let mut ws = accept_hdr_async(tcp, cb).await.unwrap();
        assert_eq!(ws.protocol(), Some("superchat"));
        let m = ws.next().await.unwrap().unwrap();
        ws.send(m).await.unwrap();
        while ws.next().await.is_some() {}

        let (tcp, _) = l.accept().await.unwrap();
        let cb = |_: &Request, _: Response| Err(ErrorResponse::new(None));
        accept_hdr_async(tcp, cb).await.map(|_| ())
    });
    let mut req = url.as_str().into_client_request().unwrap();
    req.headers_mut()
        .insert("sec-websocket-protocol", "chat, superchat".parse().unwrap());
    let (mut ws, resp) = connect_async(req).await.unwrap();
    assert_eq!(resp.headers()["sec-websocket-protocol"], "superchat");
    assert!(resp.headers()["sec-websocket-extensions"]
        .to_str()
        .unwrap()
        .starts_with("permessage-deflate"));
    ws.send(Message::text("hi")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("hi"));
    ws.close(None).await.unwrap();
    while ws.next().await.is_some() {}
    // After the closing handshake: AlreadyClosed, as tungstenite.
    assert!(matches!(
        ws.send(Message::text("late")).await,
        Err(Error::AlreadyClosed)
    ));

    let _ = connect_async(&url).await;
    match server.await.unwrap() {
        Err(Error::Protocol(ProtocolError::CustomResponseSuccessful)) => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn from_raw_socket_both_roles() {
    let (a, b) = tokio::io::duplex(1 << 16);
    let mut server = WebSocketStream::from_raw_socket(a, Role::Server, None).await;
    let mut client = WebSocketStream::from_partially_read(b, Vec::new(), Role::Client, None).await;
    assert_eq!(server.extensions(), None);
    client.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(
        server.next().await.unwrap().unwrap(),
        Message::binary(vec![1, 2, 3])
    );
    server.send(Message::text("back")).await.unwrap();
    assert_eq!(client.next().await.unwrap().unwrap(), Message::text("back"));
}
