//! `wsx::axum` used as `axum::extract::ws` is: the app below is written as
//! an axum 0.8 user writes it, with only the `use` line changed, and a wsx
//! client offering permessage-deflate talks to it.
#![cfg(feature = "axum")]

use std::time::Duration;

use axum::extract::State;
use axum::response::Response;
use axum::routing::any;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use ws_deflate::{DeflateConfig, PerMessageDeflateClient};
use ws_ext_core::ClientNegotiator;
use wsx::axum::{close_code, CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use wsx::ClientConfig;

// ---- the app, as a user writes it --------------------------------------

/// Code elsewhere in the app, written against axum's own types: it takes
/// wsx::axum's messages as they are (the same types, re-exported).
fn shout(msg: axum::extract::ws::Message) -> axum::extract::ws::Message {
    match msg {
        axum::extract::ws::Message::Text(t) if t.as_str() == "shout" => {
            axum::extract::ws::Message::text("SHOUT")
        }
        other => other,
    }
}

async fn ws(ws: WebSocketUpgrade) -> Response {
    ws.protocols(["chat"]).on_upgrade(handle)
}

async fn handle(mut socket: WebSocket) {
    assert_eq!(socket.protocol().map(|p| p.as_bytes()), Some(&b"chat"[..]));
    while let Some(msg) = socket.recv().await {
        let Ok(msg) = msg else { return };
        let reply = match msg {
            Message::Text(t) if t.as_str() == "close-me" => Message::Close(Some(CloseFrame {
                code: close_code::AWAY,
                reason: Utf8Bytes::from_static("bye"),
            })),
            Message::Text(t) if t.as_str() == "ping-me" => Message::Ping("hi".into()),
            Message::Text(t) => shout(Message::Text(t)),
            Message::Binary(b) => Message::Binary(b),
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Close(_) => return,
        };
        if socket.send(reply).await.is_err() {
            return;
        }
    }
}

/// The split-halves variant: a reader task and a writer task.
async fn ws_split(ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(|socket| async {
        let (mut sender, mut receiver) = socket.split();
        let (tx, mut rx) = mpsc::channel::<Message>(16);
        let writer = tokio::spawn(async move {
            while let Some(msg) = rx.recv().await {
                if sender.send(msg).await.is_err() {
                    break;
                }
            }
        });
        while let Some(Ok(msg)) = receiver.next().await {
            if let Message::Text(_) | Message::Binary(_) = msg {
                if tx.send(msg).await.is_err() {
                    break;
                }
            }
        }
        drop(tx);
        let _ = writer.await;
    })
}

/// No compression, bounded messages.
async fn ws_plain(ws: WebSocketUpgrade) -> Response {
    ws.deflate(None)
        .max_message_size(1024)
        .on_upgrade(handle_plain)
}

async fn handle_plain(mut socket: WebSocket) {
    while let Some(Ok(msg)) = socket.recv().await {
        if let Message::Text(_) | Message::Binary(_) = msg {
            if socket.send(msg).await.is_err() {
                return;
            }
        }
    }
}

/// Reports a failed upgrade through the state's channel.
async fn ws_failing(ws: WebSocketUpgrade, State(failed): State<mpsc::Sender<String>>) -> Response {
    ws.on_failed_upgrade(move |error: axum::Error| {
        let _ = failed.try_send(error.to_string());
    })
    .on_upgrade(|_socket| async {})
}

/// Chooses from what the client requested, by hand.
async fn ws_pick(mut ws: WebSocketUpgrade) -> Response {
    let last = ws.requested_protocols().last().cloned();
    if let Some(protocol) = last {
        ws.set_selected_protocol(protocol);
    }
    assert!(ws.selected_protocol().is_some());
    ws.on_upgrade(handle_plain)
}

fn app(failed: mpsc::Sender<String>) -> Router {
    Router::new()
        .route("/ws", any(ws))
        .route("/pick", any(ws_pick))
        .route("/split", any(ws_split))
        .route("/plain", any(ws_plain))
        .route("/failing", any(ws_failing))
        .with_state(failed)
}

// ---- the checks --------------------------------------------------------

async fn serve() -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move { axum::serve(listener, app(tx)).await });
    (port, rx)
}

fn client_config(protocols: &[&str]) -> ClientConfig {
    let pmd = PerMessageDeflateClient::try_new(DeflateConfig::default()).unwrap();
    ClientConfig::default()
        .with_extensions(ClientNegotiator::new().with(pmd))
        .with_subprotocols(protocols.iter().map(|p| p.to_string()).collect())
}

fn payloads() -> Vec<wsx::Message> {
    vec![
        wsx::Message::text("hello"),
        wsx::Message::text("the same words again and again ".repeat(4000)),
        wsx::Message::text("é€𝄞 and \u{0}"),
        wsx::Message::binary((0..=255u8).cycle().take(70_000).collect::<Vec<u8>>()),
        wsx::Message::binary(Vec::new()),
        wsx::Message::text(""),
    ]
}

#[tokio::test]
async fn echo_with_deflate_and_subprotocol() {
    let (port, _) = serve().await;
    let url = format!("ws://127.0.0.1:{port}/ws");
    let (mut ws, resp) = wsx::connect_with(&url, &client_config(&["other", "chat"]))
        .await
        .unwrap();
    assert_eq!(resp.status(), 101);
    let ext = resp.headers()["sec-websocket-extensions"].to_str().unwrap();
    assert!(ext.starts_with("permessage-deflate"), "{ext}");
    assert_eq!(ws.extensions(), Some(ext));
    assert_eq!(resp.headers()["sec-websocket-protocol"], "chat");
    assert_eq!(ws.protocol(), Some("chat"));

    for msg in payloads() {
        ws.send(msg.clone()).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), msg);
    }
    // Our ping is answered with the same payload.
    ws.send(wsx::Message::Ping("p1".into())).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        wsx::Message::Pong("p1".into())
    );
    // A message through the app's own axum-typed code.
    ws.send(wsx::Message::text("shout")).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        wsx::Message::text("SHOUT")
    );
    // The app's ping reaches us.
    ws.send(wsx::Message::text("ping-me")).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        wsx::Message::Ping("hi".into())
    );
    // The app closes with a code and a reason.
    ws.send(wsx::Message::text("close-me")).await.unwrap();
    match ws.next().await.unwrap().unwrap() {
        wsx::Message::Close(Some(frame)) => {
            assert_eq!(u16::from(frame.code), close_code::AWAY);
            assert_eq!(frame.reason.as_str(), "bye");
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
    assert!(ws.next().await.is_none());
}

#[tokio::test]
async fn client_close_with_code_and_reason() {
    let (port, _) = serve().await;
    let url = format!("ws://127.0.0.1:{port}/ws");
    let (mut ws, _) = wsx::connect_with(&url, &client_config(&["chat"]))
        .await
        .unwrap();
    ws.send(wsx::Message::text("x")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), wsx::Message::text("x"));
    ws.send(wsx::Message::Close(Some(wsx::CloseFrame {
        code: wsx::CloseCode::Library(4000),
        reason: "done".into(),
    })))
    .await
    .unwrap();
    // The reply echoes the code.
    match ws.next().await.unwrap().unwrap() {
        wsx::Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 4000),
        other => panic!("expected a close frame, got {other:?}"),
    }
    assert!(ws.next().await.is_none());
}

#[tokio::test]
async fn split_halves_echo() {
    let (port, _) = serve().await;
    let url = format!("ws://127.0.0.1:{port}/split");
    let (mut ws, resp) = wsx::connect_with(&url, &client_config(&["chat"]))
        .await
        .unwrap();
    // No `protocols` on this route: no subprotocol selected.
    assert!(resp.headers().get("sec-websocket-protocol").is_none());
    assert!(ws
        .extensions()
        .is_some_and(|e| e.starts_with("permessage-deflate")));
    for msg in payloads() {
        ws.send(msg.clone()).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), msg);
    }
    ws.close().await.unwrap();
    assert!(matches!(ws.next().await, Some(Ok(wsx::Message::Close(_)))));
    assert!(ws.next().await.is_none());
}

#[tokio::test]
async fn deflate_off_and_limits() {
    let (port, _) = serve().await;
    let url = format!("ws://127.0.0.1:{port}/plain");
    let (mut ws, resp) = wsx::connect_with(&url, &client_config(&[])).await.unwrap();
    assert!(resp.headers().get("sec-websocket-extensions").is_none());
    assert_eq!(ws.extensions(), None);
    ws.send(wsx::Message::text("small")).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        wsx::Message::text("small")
    );
    // Over `max_message_size`: the server fails the connection with 1009.
    ws.send(wsx::Message::binary(vec![7u8; 4096]))
        .await
        .unwrap();
    match ws.next().await.unwrap().unwrap() {
        wsx::Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), close_code::SIZE),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

async fn raw(port: u16, request: &str) -> String {
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    // Read the head, then as much body as it announces (the connection
    // stays open: keep-alive).
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&answer).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if answer.len() >= end + 4 + length {
                return text;
            }
        }
        let n = tcp.read(&mut buf).await.unwrap();
        if n == 0 {
            return text;
        }
        answer.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test]
async fn rejections_are_axums() {
    let (port, _) = serve().await;
    // (request, status line, body) as axum 0.8's own extractor answers.
    let cases = [
        (
            "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "HTTP/1.1 400",
            "Connection header did not include 'upgrade'",
        ),
        (
            "POST /ws HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 405",
            "Request method must be `GET`",
        ),
        (
            "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n",
            "HTTP/1.1 400",
            "`Upgrade` header did not include 'websocket'",
        ),
        (
            "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n",
            "HTTP/1.1 400",
            "`Sec-WebSocket-Key` header missing",
        ),
        (
            "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
            "HTTP/1.1 400",
            "`Sec-WebSocket-Version` header did not include '13'",
        ),
    ];
    // Passes axum's checks, fails wsx's (the key is not 16 bytes in
    // base64): wsx's 400 from `on_upgrade`.
    let answer = raw(
        port,
        "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    for (request, status, body) in cases {
        let answer = tokio::time::timeout(Duration::from_secs(10), raw(port, request))
            .await
            .unwrap();
        assert!(answer.starts_with(status), "{request:?} -> {answer}");
        assert!(answer.ends_with(body), "{request:?} -> {answer}");
    }
}

#[tokio::test]
async fn on_failed_upgrade_is_called() {
    // Served by hyper's HTTP/1 connection *without* `with_upgrades()`: the
    // 101 goes out, but hyper never hands the connection over.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, mut failed) = mpsc::channel(4);
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let service = hyper_util::service::TowerToHyperService::new(app(tx));
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
            .await;
    });
    let answer = raw(
        port,
        "GET /failing HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 101"), "{answer}");
    let error = tokio::time::timeout(Duration::from_secs(10), failed.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(!error.is_empty());
}

/// The examples of axum 0.8.9's `extract::ws` module docs, with the `use`
/// line changed to `wsx::axum`: they compile, and the first one echoes.
mod axum_doc_examples {
    use super::*;
    use axum::extract::State;
    use futures_util::stream::{SplitSink, SplitStream};
    use wsx::axum::{Message, WebSocket, WebSocketUpgrade};

    // # Example
    pub fn app() -> Router {
        async fn handler(ws: WebSocketUpgrade) -> Response {
            ws.on_upgrade(handle_socket)
        }

        async fn handle_socket(mut socket: WebSocket) {
            while let Some(msg) = socket.recv().await {
                let msg = if let Ok(msg) = msg {
                    msg
                } else {
                    // client disconnected
                    return;
                };

                if socket.send(msg).await.is_err() {
                    // client disconnected
                    return;
                }
            }
        }
        Router::new().route("/ws", any(handler))
    }

    // # Passing data and/or state to an `on_upgrade` callback
    #[derive(Clone)]
    struct AppState {}

    #[allow(dead_code)]
    pub fn app_with_state() -> Router {
        async fn handler(ws: WebSocketUpgrade, State(state): State<AppState>) -> Response {
            ws.on_upgrade(|socket| handle_socket(socket, state))
        }

        async fn handle_socket(_socket: WebSocket, _state: AppState) {}

        Router::new()
            .route("/ws", any(handler))
            .with_state(AppState {})
    }

    // # Read and write concurrently
    #[allow(dead_code)]
    pub async fn handle_socket(socket: WebSocket) {
        let (sender, receiver) = socket.split();
        tokio::spawn(write(sender));
        tokio::spawn(read(receiver));
    }

    async fn read(_receiver: SplitStream<WebSocket>) {}

    async fn write(_sender: SplitSink<WebSocket, Message>) {}
}

#[tokio::test]
async fn axum_doc_example_echoes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, axum_doc_examples::app()).await });
    let url = format!("ws://127.0.0.1:{port}/ws");
    let (mut ws, _) = wsx::connect_with(&url, &client_config(&[])).await.unwrap();
    assert!(ws.extensions().is_some());
    for msg in payloads() {
        ws.send(msg.clone()).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), msg);
    }
    ws.close().await.unwrap();
    assert!(matches!(ws.next().await, Some(Ok(wsx::Message::Close(_)))));
}

#[tokio::test]
async fn set_selected_protocol_from_requested() {
    let (port, _) = serve().await;
    let url = format!("ws://127.0.0.1:{port}/pick");
    let (mut ws, resp) = wsx::connect_with(&url, &client_config(&["a", "b"]))
        .await
        .unwrap();
    assert_eq!(resp.headers()["sec-websocket-protocol"], "b");
    assert_eq!(ws.protocol(), Some("b"));
    ws.send(wsx::Message::text("x")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), wsx::Message::text("x"));
}

#[test]
fn socket_and_extractor_are_send() {
    fn send<T: Send + 'static>() {}
    send::<WebSocket>();
    send::<WebSocketUpgrade>();
    send::<Message>();
}
