//! The programs in `programs/` (written against tokio-tungstenite's API
//! only), run over loopback against (a) this crate's client or server and
//! (b) wsx's own client or server with permessage-deflate, and against the
//! real tokio-tungstenite (which gets an uncompressed connection).
//! Every run checks that permessage-deflate was negotiated and that the
//! messages arrive byte-exact.

// tungstenite's `Callback` returns its `ErrorResponse` by value.
#![allow(clippy::result_large_err)]

mod programs;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use ws_deflate::{DeflateConfig, PerMessageDeflateClient, PerMessageDeflateServer};
use ws_ext_core::{ClientNegotiator, ServerNegotiator};

/// Bind a loopback listener, run `server` on it, return its base URL.
async fn serve<F, Fut>(server: F) -> String
where
    F: FnOnce(TcpListener) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(server(listener));
    format!("ws://127.0.0.1:{port}")
}

fn messages() -> Vec<Message> {
    vec![
        Message::text("hello"),
        Message::text("héllo wörld ✓ ".repeat(3000)),
        Message::binary((0..=255u8).cycle().take(70_000).collect::<Vec<u8>>()),
        Message::binary(Vec::new()),
        Message::text(""),
        Message::binary(pseudo_random(20_000)),
    ]
}

fn pseudo_random(n: usize) -> Vec<u8> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn assert_deflate(headers: &tungstenite::http::HeaderMap) {
    let ext = headers
        .get("sec-websocket-extensions")
        .expect("no Sec-WebSocket-Extensions in the response")
        .to_str()
        .unwrap();
    assert!(ext.starts_with("permessage-deflate"), "{ext}");
}

fn wsx_client_config() -> wsx::ClientConfig {
    wsx::ClientConfig::default().with_extensions(
        ClientNegotiator::new()
            .with(PerMessageDeflateClient::try_new(DeflateConfig::default()).unwrap()),
    )
}

fn wsx_server_config() -> wsx::ServerConfig {
    wsx::ServerConfig::default().with_extensions(
        ServerNegotiator::new()
            .with(PerMessageDeflateServer::try_new(DeflateConfig::default()).unwrap()),
    )
}

/// (a) this crate's client against an echo program: deflate, exact echoes,
/// clean close.
async fn echo_with_compat_client(url: &str) {
    let (mut ws, resp) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert_eq!(resp.status(), 101);
    assert_deflate(resp.headers());
    assert!(ws.extensions().unwrap().starts_with("permessage-deflate"));
    for msg in messages() {
        ws.send(msg.clone()).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), msg);
    }
    ws.close(None).await.unwrap();
    let mut saw_close = false;
    while let Some(m) = ws.next().await {
        saw_close |= m.unwrap().is_close();
    }
    assert!(saw_close, "no close frame from the server");
}

/// (b) wsx's own client with permessage-deflate against an echo program.
async fn echo_with_wsx_client(url: &str) {
    let (mut ws, resp) = wsx::connect_with(url, &wsx_client_config()).await.unwrap();
    assert_deflate(resp.headers());
    for msg in messages() {
        ws.send(msg.clone()).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), msg);
    }
    ws.close().await.unwrap();
    assert!(matches!(ws.next().await, Some(Ok(Message::Close(Some(_))))));
    assert!(ws.next().await.is_none());
}

/// The real tokio-tungstenite client: no extension offered, none answered,
/// same echoes.
async fn echo_with_real_client(url: &str) {
    let (mut ws, resp) = real_tokio_tungstenite::connect_async(url).await.unwrap();
    assert!(resp.headers().get("sec-websocket-extensions").is_none());
    for msg in messages() {
        ws.send(msg.clone()).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), msg);
    }
    ws.close(None).await.unwrap();
    while let Some(m) = ws.next().await {
        m.unwrap();
    }
}

#[tokio::test]
async fn echo_server_program() {
    let url = serve(programs::echo_server::run).await;
    echo_with_compat_client(&url).await;
    echo_with_wsx_client(&url).await;
    echo_with_real_client(&url).await;
}

#[tokio::test]
async fn autobahn_server_program() {
    let url = serve(programs::autobahn_server::run).await;
    echo_with_compat_client(&url).await;
    echo_with_wsx_client(&url).await;
    echo_with_real_client(&url).await;
}

#[tokio::test]
async fn chat_server_program_broadcasts_through_split_halves_and_channels() {
    let state: programs::chat_server::PeerMap = Arc::new(Mutex::new(HashMap::new()));
    let url = serve({
        let state = state.clone();
        move |l| programs::chat_server::run(l, state)
    })
    .await;
    let (mut a, resp) = tokio_tungstenite::connect_async(&url).await.unwrap();
    assert_deflate(resp.headers());
    let (mut b, resp) = tokio_tungstenite::connect_async(&url).await.unwrap();
    assert_deflate(resp.headers());
    let (mut c, resp) = wsx::connect_with(&url, &wsx_client_config()).await.unwrap();
    assert_deflate(resp.headers());
    // Every peer is registered once its handshake is done on the server.
    for _ in 0..500 {
        if state.lock().unwrap().len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(state.lock().unwrap().len(), 3);

    for msg in messages() {
        a.send(msg.clone()).await.unwrap();
        assert_eq!(b.next().await.unwrap().unwrap(), msg);
        assert_eq!(c.next().await.unwrap().unwrap(), msg);
    }
    for msg in messages() {
        c.send(msg.clone()).await.unwrap();
        assert_eq!(a.next().await.unwrap().unwrap(), msg);
        assert_eq!(b.next().await.unwrap().unwrap(), msg);
    }
    // A leaves; B's messages still reach C.
    a.close(None).await.unwrap();
    while a.next().await.is_some() {}
    b.send(Message::text("still here")).await.unwrap();
    assert_eq!(
        c.next().await.unwrap().unwrap(),
        Message::text("still here")
    );
}

#[tokio::test]
async fn header_server_program_accepts_with_the_callbacks_headers() {
    let url = serve(programs::header_server::run).await;
    // (a) this crate's client, with a request carrying a header.
    let mut req = format!("{url}/chat").into_client_request().unwrap();
    req.headers_mut().insert("x-token", "abc".parse().unwrap());
    let (mut ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_deflate(resp.headers());
    assert_eq!(resp.headers()["mycustomheader"], ":)");
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::text("path=/chat token=abc")
    );
    for msg in messages() {
        ws.send(msg.clone()).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), msg);
    }
    ws.close(None).await.unwrap();
    while ws.next().await.is_some() {}

    // (b) wsx's client.
    let mut config = wsx_client_config();
    config
        .extra_headers
        .insert("x-token", "xyz".parse().unwrap());
    let (mut ws, resp) = wsx::connect_with(&format!("{url}/room?id=7"), &config)
        .await
        .unwrap();
    assert_deflate(resp.headers());
    assert_eq!(resp.headers()["mycustomheader"], ":)");
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::text("path=/room token=xyz")
    );
    for msg in messages() {
        ws.send(msg.clone()).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), msg);
    }
}

#[tokio::test]
async fn header_server_program_rejects_with_status_and_body() {
    let url = serve(programs::header_server::run).await;
    // (a) this crate's client: tungstenite's Error::Http with the response.
    match tokio_tungstenite::connect_async(format!("{url}/forbidden")).await {
        Err(tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status(), 403);
            assert_eq!(resp.headers()["x-reason"], "forbidden");
            assert_eq!(resp.body().as_deref(), Some(&b"go away"[..]));
        }
        other => panic!("expected a 403, got {:?}", other.map(|(_, r)| r)),
    }
    let mut req = format!("{url}/chat").into_client_request().unwrap();
    req.headers_mut().insert("x-token", "bad".parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 403),
        other => panic!("expected a 403, got {:?}", other.map(|(_, r)| r)),
    }
    // (b) wsx's client.
    match wsx::connect_with(&format!("{url}/forbidden"), &wsx_client_config()).await {
        Err(wsx::Error::Handshake(wsx::HandshakeError::Status { status, body })) => {
            assert_eq!(status, 403);
            assert_eq!(body, "go away");
        }
        other => panic!("expected a 403, got {:?}", other.map(|(_, r)| r)),
    }
    // The real tokio-tungstenite client sees the same.
    match real_tokio_tungstenite::connect_async(format!("{url}/forbidden")).await {
        Err(tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status(), 403);
            assert_eq!(resp.body().as_deref(), Some(&b"go away"[..]));
        }
        other => panic!("expected a 403, got {:?}", other.map(|(_, r)| r)),
    }
}

fn is_tick(m: &Message) -> bool {
    m.to_text().is_ok_and(|t| t.starts_with("tick "))
}

#[tokio::test]
async fn interval_server_program_pushes_and_echoes() {
    let url = serve(|l| programs::interval_server::run(l, Duration::from_millis(20))).await;
    // (a)
    let (mut ws, resp) = tokio_tungstenite::connect_async(&url).await.unwrap();
    assert_deflate(resp.headers());
    let mut ticks = 0;
    for msg in messages() {
        ws.send(msg.clone()).await.unwrap();
        loop {
            let m = ws.next().await.unwrap().unwrap();
            if is_tick(&m) {
                ticks += 1;
                continue;
            }
            assert_eq!(m, msg);
            break;
        }
    }
    while ticks < 3 {
        assert!(is_tick(&ws.next().await.unwrap().unwrap()));
        ticks += 1;
    }
    ws.close(None).await.unwrap();
    while let Some(m) = ws.next().await {
        m.unwrap();
    }
    // (b)
    let (mut ws, resp) = wsx::connect_with(&url, &wsx_client_config()).await.unwrap();
    assert_deflate(resp.headers());
    let mut ticks = 0;
    while ticks < 3 {
        let m = ws.next().await.unwrap().unwrap();
        assert!(is_tick(&m), "{m:?}");
        assert!(m.to_text().unwrap().ends_with(&"payload ".repeat(50)));
        ticks += 1;
    }
    ws.send(Message::text("echo me")).await.unwrap();
    loop {
        let m = ws.next().await.unwrap().unwrap();
        if !is_tick(&m) {
            assert_eq!(m, Message::text("echo me"));
            break;
        }
    }
}

fn client_input() -> Vec<u8> {
    let mut v = b"line of text that compresses well\n".repeat(6000);
    v.extend(pseudo_random(50_000));
    v
}

/// Against the Autobahn server program, which sends each echo before
/// reading on. (tokio-tungstenite's echo-server example, split + forward,
/// may read the client's close before its last echo leaves the split sink's
/// slot and then drops that echo: the real tokio-tungstenite does the same,
/// so a client that closes right after sending is tested against this one.)
#[tokio::test]
async fn stdin_client_program_against_the_autobahn_server_program() {
    let url = serve(programs::autobahn_server::run).await;
    let input = client_input();
    let mut output = Vec::new();
    programs::stdin_client::run(&url, &input[..], &mut output)
        .await
        .unwrap();
    assert_same(&output, &input);
}

fn assert_same(output: &[u8], input: &[u8]) {
    if output != input {
        let common = output.iter().zip(input).take_while(|(a, b)| a == b).count();
        panic!(
            "output of {} bytes differs from the input of {} from byte {common}",
            output.len(),
            input.len()
        );
    }
}

#[tokio::test]
async fn stdin_client_program_against_a_wsx_server() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let url = serve(move |listener| async move {
        let config = wsx_server_config();
        while let Ok((tcp, _)) = listener.accept().await {
            let mut ws = wsx::accept_with(tcp, &config).await.unwrap();
            let _ = tx.send(ws.extensions().map(str::to_owned));
            while let Some(Ok(msg)) = ws.next().await {
                if msg.is_binary() || msg.is_text() {
                    ws.send(msg).await.unwrap();
                }
            }
        }
    })
    .await;
    let input = client_input();
    let mut output = Vec::new();
    programs::stdin_client::run(&url, &input[..], &mut output)
        .await
        .unwrap();
    assert_same(&output, &input);
    let ext = rx.recv().await.unwrap().unwrap();
    assert!(ext.starts_with("permessage-deflate"), "{ext}");
}

/// A stand-in for Autobahn's fuzzing server, on wsx: `getCaseCount`,
/// `runCase` (send the messages, expect them back exactly, close) and
/// `updateReports`. Reports (case, passed, negotiated extension).
async fn fake_fuzzingserver(
    listener: TcpListener,
    results: tokio::sync::mpsc::UnboundedSender<(String, bool, Option<String>)>,
) {
    while let Ok((tcp, _)) = listener.accept().await {
        let path = Arc::new(Mutex::new(String::new()));
        let config = wsx_server_config().on_request({
            let path = path.clone();
            move |req, _| {
                *path.lock().unwrap() = req.uri().to_string();
                wsx::RequestDecision::Accept
            }
        });
        let Ok(mut ws) = wsx::accept_with(tcp, &config).await else {
            continue;
        };
        let path = path.lock().unwrap().clone();
        let ext = ws.extensions().map(str::to_owned);
        let mut passed = true;
        if path.starts_with("/getCaseCount") {
            ws.send(Message::text("3")).await.unwrap();
        } else if path.starts_with("/runCase") {
            for msg in messages() {
                ws.send(msg.clone()).await.unwrap();
                passed &= matches!(ws.next().await, Some(Ok(m)) if m == msg);
            }
            ws.close().await.unwrap();
        }
        // Wait for the closing handshake.
        while let Some(m) = ws.next().await {
            passed &= m.is_ok();
        }
        let _ = results.send((path, passed, ext));
    }
}

#[tokio::test]
async fn autobahn_client_program_against_a_fuzzing_server_stand_in() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let url = serve(move |l| fake_fuzzingserver(l, tx)).await;
    assert_eq!(programs::autobahn_client::run(&url).await.unwrap(), 3);
    let mut seen = Vec::new();
    for _ in 0..5 {
        let (path, passed, ext) = rx.recv().await.unwrap();
        assert!(passed, "{path}");
        assert!(
            ext.as_deref()
                .is_some_and(|e| e.starts_with("permessage-deflate")),
            "{path}: {ext:?}"
        );
        seen.push(path);
    }
    assert_eq!(
        seen,
        [
            "/getCaseCount",
            "/runCase?case=1&agent=Tungstenite",
            "/runCase?case=2&agent=Tungstenite",
            "/runCase?case=3&agent=Tungstenite",
            "/updateReports?agent=Tungstenite",
        ]
    );
}

/// This crate's client against the real tokio-tungstenite server: the offer
/// is ignored, the connection is plain, the echoes exact.
#[tokio::test]
async fn compat_client_against_the_real_tokio_tungstenite_server() {
    let url = serve(|listener| async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut ws = real_tokio_tungstenite::accept_async(tcp).await.unwrap();
                while let Some(Ok(msg)) = ws.next().await {
                    if msg.is_text() || msg.is_binary() {
                        ws.send(msg).await.unwrap();
                    }
                }
            });
        }
    })
    .await;
    let (mut ws, resp) = tokio_tungstenite::connect_async(&url).await.unwrap();
    assert!(resp.headers().get("sec-websocket-extensions").is_none());
    assert_eq!(ws.extensions(), None);
    for msg in messages() {
        ws.send(msg.clone()).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), msg);
    }
    ws.close(None).await.unwrap();
    while let Some(m) = ws.next().await {
        m.unwrap();
    }
}
