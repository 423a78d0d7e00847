//! Our client against our server over loopback TCP.

#![allow(clippy::field_reassign_with_default)]

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use ws_deflate::{DeflateConfig, PerMessageDeflateClient, PerMessageDeflateServer};
use ws_ext_core::{ClientNegotiator, ServerNegotiator};
use wsx::{
    ClientConfig, CloseCode, CloseFrame, Message, ReadyState, ServerConfig, WebSocketStream,
};

async fn echo_server(
    config: ServerConfig,
) -> (String, tokio::task::JoinHandle<Vec<Result<(), String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let handle = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = match wsx::accept_with(tcp, &config).await {
            Ok(ws) => ws,
            Err(e) => return vec![Err(e.to_string())],
        };
        let mut results = Vec::new();
        while let Some(m) = ws.next().await {
            match m {
                Ok(m @ (Message::Text(_) | Message::Binary(_))) => ws.send(m).await.unwrap(),
                Ok(_) => {}
                Err(e) => results.push(Err(e.to_string())),
            }
        }
        assert_eq!(ws.ready_state(), ReadyState::Closed);
        results.push(Ok(()));
        results
    });
    (url, handle)
}

async fn close_and_drain<S>(ws: &mut WebSocketStream<S>) -> Vec<Message>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    ws.close().await.unwrap();
    let mut rest = Vec::new();
    while let Some(m) = ws.next().await {
        rest.push(m.unwrap());
    }
    rest
}

#[tokio::test]
async fn echo_text_binary_empty_and_large() {
    let (url, server) = echo_server(ServerConfig::default()).await;
    let (mut ws, resp) = wsx::connect(&url).await.unwrap();
    assert_eq!(resp.status(), 101);
    assert_eq!(ws.ready_state(), ReadyState::Open);
    // The defaults of both sides negotiate permessage-deflate.
    let ext = ws.extensions().expect("negotiated by default");
    assert!(ext.starts_with("permessage-deflate"), "{ext}");
    let msgs = vec![
        Message::text("hello"),
        Message::text(""),
        Message::binary(vec![]),
        Message::binary(vec![0xffu8; 3]),
        Message::binary((0..2_000_000u32).map(|i| i as u8).collect::<Vec<_>>()),
        Message::text("é".repeat(40_000)),
    ];
    for m in &msgs {
        ws.feed(m.clone()).await.unwrap();
    }
    ws.flush().await.unwrap();
    assert_eq!(ws.buffered_amount(), 0);
    for m in &msgs {
        assert_eq!(&ws.next().await.unwrap().unwrap(), m);
    }
    let rest = close_and_drain(&mut ws).await;
    assert_eq!(rest.len(), 1);
    assert!(matches!(&rest[0], Message::Close(Some(f)) if f.code == CloseCode::Normal));
    assert_eq!(ws.ready_state(), ReadyState::Closed);
    assert!(ws.next().await.is_none());
    assert!(matches!(
        ws.send(Message::text("late")).await,
        Err(wsx::Error::ConnectionClosed)
    ));
    assert_eq!(server.await.unwrap(), vec![Ok(())]);
}

#[tokio::test]
async fn split_halves_in_two_tasks() {
    let (url, server) = echo_server(ServerConfig::default()).await;
    let (ws, _) = wsx::connect(&url).await.unwrap();
    let (mut tx, mut rx) = ws.split();
    let writer = tokio::spawn(async move {
        for i in 0..500 {
            tx.send(Message::text(format!("m{i}"))).await.unwrap();
        }
        tx.close().await.unwrap();
    });
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        while let Some(m) = rx.next().await {
            got.push(m.unwrap());
        }
        got
    });
    writer.await.unwrap();
    let got = reader.await.unwrap();
    assert_eq!(got.len(), 501);
    for (i, m) in got[..500].iter().enumerate() {
        assert_eq!(m, &Message::text(format!("m{i}")));
    }
    assert!(matches!(got[500], Message::Close(_)));
    assert_eq!(server.await.unwrap(), vec![Ok(())]);
}

#[tokio::test]
async fn ping_is_answered_automatically_and_close_code_echoed() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = wsx::accept(tcp).await.unwrap();
        ws.send(Message::Ping(Bytes::from_static(b"are you there")))
            .await
            .unwrap();
        let pong = ws.next().await.unwrap().unwrap();
        assert_eq!(pong, Message::Pong(Bytes::from_static(b"are you there")));
        ws.send(Message::Close(Some(CloseFrame {
            code: CloseCode::from(4001),
            reason: "done".into(),
        })))
        .await
        .unwrap();
        let reply = ws.next().await.unwrap().unwrap();
        assert!(
            matches!(reply, Message::Close(Some(ref f)) if u16::from(f.code) == 4001),
            "{reply:?}"
        );
        assert!(ws.next().await.is_none());
    });
    let (mut ws, _) = wsx::connect(&url).await.unwrap();
    let mut seen = Vec::new();
    while let Some(m) = ws.next().await {
        seen.push(m.unwrap());
    }
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0], Message::Ping(Bytes::from_static(b"are you there")));
    assert!(
        matches!(&seen[1], Message::Close(Some(f)) if u16::from(f.code) == 4001 && f.reason == "done")
    );
    server.await.unwrap();
}

#[tokio::test]
async fn frames_right_behind_the_101_are_kept() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = tcp.read(&mut chunk).await.unwrap();
            buf.extend_from_slice(&chunk[..n]);
        }
        let req = String::from_utf8(buf).unwrap();
        let key = req
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap();
        let accept = wsx::proto::handshake::derive_accept_key(key.trim().as_bytes());
        let mut out = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        )
        .into_bytes();
        out.extend_from_slice(&[0x81, 0x05]);
        out.extend_from_slice(b"early");
        out.extend_from_slice(&[0x88, 0x02, 0x03, 0xe8]);
        tcp.write_all(&out).await.unwrap();
        let mut rest = vec![0u8; 8];
        tcp.read_exact(&mut rest).await.unwrap();
        rest
    });
    let (mut ws, _) = wsx::connect(&url).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("early"));
    assert!(matches!(
        ws.next().await.unwrap().unwrap(),
        Message::Close(Some(_))
    ));
    // Our close reply went out masked; then the server closes TCP.
    let rest = server.await.unwrap();
    assert_eq!(rest.len(), 8, "masked close reply with code: {rest:?}");
    assert_eq!(rest[0], 0x88);
    assert!(ws.next().await.is_none());
}

#[tokio::test]
async fn too_big_message_closes_with_1009() {
    let mut config = ServerConfig::default();
    config.websocket.max_message_size = 1000;
    let (url, server) = echo_server(config).await;
    let (mut ws, _) = wsx::connect(&url).await.unwrap();
    ws.send(Message::binary(vec![0u8; 1000])).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap().len(), 1000);
    ws.send(Message::binary(vec![0u8; 1001])).await.unwrap();
    let m = ws.next().await.unwrap().unwrap();
    assert!(
        matches!(&m, Message::Close(Some(f)) if u16::from(f.code) == 1009),
        "{m:?}"
    );
    assert!(ws.next().await.is_none());
    let results = server.await.unwrap();
    assert!(
        results[0].as_ref().unwrap_err().contains("1009"),
        "{results:?}"
    );
}

#[tokio::test]
async fn handshake_timeout_answers_408() {
    let mut config = ServerConfig::default();
    config.handshake_timeout = Duration::from_millis(200);
    let (url, server) = echo_server(config).await;
    let addr = url
        .trim_start_matches("ws://")
        .trim_end_matches('/')
        .to_owned();
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(server.await.unwrap()[0]
        .as_ref()
        .unwrap_err()
        .contains("timed out"));
}

#[tokio::test]
async fn subprotocol_is_negotiated() {
    let mut sc = ServerConfig::default();
    sc.subprotocols = vec!["b".into()];
    let (url, server) = echo_server(sc).await;
    let mut cc = ClientConfig::default();
    cc.subprotocols = vec!["a".into(), "b".into()];
    let (mut ws, _) = wsx::connect_with(&url, &cc).await.unwrap();
    assert_eq!(ws.protocol(), Some("b"));
    close_and_drain(&mut ws).await;
    server.await.unwrap();
}

#[tokio::test]
async fn upgraded_connection_entry_over_an_in_memory_pipe() {
    let (a, b) = tokio::io::duplex(1 << 16);
    let req = http::Request::builder()
        .uri("/x")
        .header("host", "h")
        .header("upgrade", "websocket")
        .header("connection", "upgrade")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-extensions", "permessage-deflate")
        .body(())
        .unwrap();
    let mut config = ServerConfig::default();
    config.extensions =
        ServerNegotiator::new().with(PerMessageDeflateServer::new(DeflateConfig::default()));
    let accepted = wsx::negotiate_upgrade(&req, &config).unwrap();
    let ext = accepted.response.headers()["sec-websocket-extensions"]
        .to_str()
        .unwrap()
        .to_owned();
    let mut server = WebSocketStream::from_upgraded(a, accepted, config.websocket.clone());
    assert_eq!(server.extensions(), Some(ext.as_str()));
    // The other end: a client stack negotiated from the same response.
    let client_neg =
        ClientNegotiator::new().with(PerMessageDeflateClient::new(DeflateConfig::default()));
    let stack = client_neg.finish([ext.as_bytes()]).unwrap();
    let mut client = WebSocketStream::from_parts(
        b,
        wsx::Role::Client,
        stack,
        None,
        Default::default(),
        Default::default(),
    );
    client
        .send(Message::text("over the pipe ".repeat(50)))
        .await
        .unwrap();
    assert_eq!(
        server.next().await.unwrap().unwrap(),
        Message::text("over the pipe ".repeat(50))
    );
    server.send(Message::text("back")).await.unwrap();
    assert_eq!(client.next().await.unwrap().unwrap(), Message::text("back"));
}

fn deflate_cfg(snct: bool, cnct: bool, smwb: Option<u8>, cmwb: Option<u8>) -> DeflateConfig {
    DeflateConfig::default()
        .with_server_no_context_takeover(snct)
        .with_client_no_context_takeover(cnct)
        .with_server_max_window_bits(smwb)
        .with_client_max_window_bits(cmwb)
}

/// Every combination of the four parameters, configured on the server side
/// and (separately) offered by the client.
#[tokio::test]
async fn deflate_every_parameter_combination() {
    let mut combos = Vec::new();
    for snct in [false, true] {
        for cnct in [false, true] {
            for smwb in [None, Some(9), Some(15)] {
                for cmwb in [None, Some(9), Some(12)] {
                    combos.push(deflate_cfg(snct, cnct, smwb, cmwb));
                }
            }
        }
    }
    let payloads = vec![
        Message::text("{\"compressible\": true} ".repeat(200)),
        Message::text(""),
        Message::binary(
            (0..20_000u32)
                .map(|i| (i * 7919 % 251) as u8)
                .collect::<Vec<_>>(),
        ),
        Message::text("short"),
        Message::text("{\"compressible\": true} ".repeat(200)),
    ];
    for (i, cfg) in combos.iter().enumerate() {
        for server_side in [true, false] {
            let mut sc = ServerConfig::default();
            let mut cc = ClientConfig::default();
            let (s_cfg, c_cfg) = if server_side {
                (cfg.clone(), DeflateConfig::default())
            } else {
                (DeflateConfig::default(), cfg.clone())
            };
            sc.extensions = ServerNegotiator::new().with(PerMessageDeflateServer::new(s_cfg));
            cc.extensions = ClientNegotiator::new().with(PerMessageDeflateClient::new(c_cfg));
            let (url, server) = echo_server(sc).await;
            let (mut ws, _) = wsx::connect_with(&url, &cc)
                .await
                .unwrap_or_else(|e| panic!("combo {i} {cfg:?}: {e}"));
            let ext = ws
                .extensions()
                .unwrap_or_else(|| panic!("combo {i}: not negotiated"))
                .to_owned();
            assert!(ext.starts_with("permessage-deflate"));
            if server_side && cfg.server_no_context_takeover {
                assert!(ext.contains("server_no_context_takeover"), "{ext}");
            }
            for m in &payloads {
                ws.send(m.clone()).await.unwrap();
                assert_eq!(
                    &ws.next().await.unwrap().unwrap(),
                    m,
                    "combo {i} server_side={server_side} {ext}"
                );
            }
            close_and_drain(&mut ws).await;
            assert_eq!(server.await.unwrap(), vec![Ok(())], "combo {i}");
        }
    }
}

#[tokio::test]
async fn events_are_open_message_close_in_order() {
    let (url, server) = echo_server(ServerConfig::default().without_extensions()).await;
    let (ws, _) = wsx::connect(&url).await.unwrap();
    let mut events = wsx::Events::new(ws);
    assert!(matches!(
        events.next().await,
        Some(wsx::Event::Open {
            extensions: None,
            ..
        })
    ));
    assert_eq!(events.ready_state(), ReadyState::Open);
    events.send(Message::text("hi")).await.unwrap();
    match events.next().await {
        Some(wsx::Event::Message(m)) => assert_eq!(m, Message::text("hi")),
        other => panic!("{other:?}"),
    }
    events.close().await.unwrap();
    assert_eq!(events.ready_state(), ReadyState::Closing);
    match events.next().await {
        Some(wsx::Event::Close {
            code, was_clean, ..
        }) => {
            assert_eq!(code, 1000);
            assert!(was_clean);
        }
        other => panic!("{other:?}"),
    }
    assert!(events.next().await.is_none());
    assert_eq!(events.ready_state(), ReadyState::Closed);
    server.await.unwrap();
}

#[tokio::test]
async fn events_report_error_then_unclean_close() {
    let mut config = ServerConfig::default();
    config.websocket.max_message_size = 10;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let ws = wsx::accept_with(tcp, &config).await.unwrap();
        let mut events = wsx::Events::new(ws);
        let mut kinds = Vec::new();
        while let Some(ev) = events.next().await {
            kinds.push(match ev {
                wsx::Event::Open { .. } => "open".to_owned(),
                wsx::Event::Message(_) => "message".to_owned(),
                wsx::Event::Error(e) => format!("error {}", e.close_code().map_or(0, u16::from)),
                wsx::Event::Close {
                    code, was_clean, ..
                } => format!("close {code} {was_clean}"),
            });
        }
        kinds
    });
    let (mut ws, _) = wsx::connect(&url).await.unwrap();
    ws.send(Message::text("x".repeat(11))).await.unwrap();
    while ws.next().await.is_some() {}
    assert_eq!(
        server.await.unwrap(),
        vec!["open", "error 1009", "close 1009 false"]
    );
}

/// Both halves of both ends block on writes at the same time while the
/// readers answer pings: no half may lose its wake-up.
#[tokio::test]
async fn split_halves_under_write_pressure_with_pings() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let ws = wsx::accept(tcp).await.unwrap();
        let (mut tx, mut rx) = ws.split();
        let writer = tokio::spawn(async move {
            for i in 0..100u32 {
                tx.send(Message::Ping(Bytes::from(i.to_be_bytes().to_vec())))
                    .await
                    .unwrap();
                tx.send(Message::binary(vec![i as u8; 64 << 10]))
                    .await
                    .unwrap();
            }
            tx
        });
        let mut data = 0;
        let mut pongs = 0;
        while let Some(m) = rx.next().await {
            match m.unwrap() {
                Message::Binary(b) => {
                    assert_eq!(b.len(), 256 << 10);
                    data += 1;
                }
                Message::Pong(_) => pongs += 1,
                _ => {}
            }
        }
        let _ = writer.await.unwrap();
        (data, pongs)
    });
    let (ws, _) = wsx::connect(&url).await.unwrap();
    let (mut tx, mut rx) = ws.split();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let writer = tokio::spawn(async move {
        for i in 0..100u32 {
            tx.send(Message::binary(vec![i as u8; 256 << 10]))
                .await
                .unwrap();
        }
        // Close only once everything the server sends has arrived.
        let _ = done_rx.await;
        tx.close().await.unwrap();
    });
    let reader = tokio::spawn(async move {
        let (mut data, mut pings) = (0, 0);
        let mut done_tx = Some(done_tx);
        while let Some(m) = rx.next().await {
            match m.unwrap() {
                Message::Binary(_) => data += 1,
                Message::Ping(_) => pings += 1,
                _ => {}
            }
            if data == 100 && pings == 100 {
                if let Some(d) = done_tx.take() {
                    let _ = d.send(());
                }
            }
        }
        (data, pings)
    });
    let all = async {
        writer.await.unwrap();
        (reader.await.unwrap(), server.await.unwrap())
    };
    let ((c_data, c_pings), (s_data, s_pongs)) = tokio::time::timeout(Duration::from_secs(30), all)
        .await
        .expect("no deadlock");
    assert_eq!((c_data, c_pings), (100, 100));
    assert_eq!((s_data, s_pongs), (100, 100));
}

#[tokio::test]
async fn idle_timeout_pings_then_drops_a_silent_peer() {
    let mut config = ServerConfig::default();
    config.websocket.idle_timeout = Some(Duration::from_millis(150));
    config.websocket.close_timeout = Duration::from_millis(200);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = wsx::accept_with(tcp, &config).await.unwrap();
        let start = std::time::Instant::now();
        let mut seen = Vec::new();
        while let Some(m) = ws.next().await {
            seen.push(m.map_err(|e| e.to_string()));
        }
        (seen, start.elapsed())
    });
    // A client that answers pings stays; one that stops reading is dropped.
    let (ws, _) = wsx::connect(&url).await.unwrap();
    let (_tx, mut rx) = ws.split();
    let mut pings = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(600);
    while let Ok(Some(m)) = tokio::time::timeout_at(deadline, rx.next()).await {
        if let Message::Ping(_) = m.unwrap() {
            pings += 1;
        }
    }
    assert!(pings >= 2, "pinged while idle: {pings}");
    // Stop reading (no more pongs): the server drops us.
    let (seen, elapsed) = server.await.unwrap();
    assert!(
        seen.iter()
            .filter(|m| matches!(m, Ok(Message::Pong(_))))
            .count()
            >= 2
    );
    assert_eq!(
        seen.last().unwrap().as_ref().unwrap_err(),
        &wsx::Error::IdleTimeout.to_string()
    );
    assert!(elapsed >= Duration::from_millis(600), "{elapsed:?}");
    drop(rx);
}

#[tokio::test]
async fn invalid_outgoing_close_is_refused_and_a_valid_one_still_works() {
    let (url, server) = echo_server(ServerConfig::default()).await;
    let (mut ws, _) = wsx::connect(&url).await.unwrap();
    let bad = Message::Close(Some(CloseFrame {
        code: CloseCode::from(1005),
        reason: "".into(),
    }));
    assert!(matches!(
        ws.send(bad).await,
        Err(wsx::Error::InvalidMessage(_))
    ));
    assert!(ws
        .send(Message::Ping(Bytes::from(vec![0; 126])))
        .await
        .is_err());
    assert_eq!(ws.ready_state(), ReadyState::Open);
    ws.send(Message::text("still open")).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::text("still open")
    );
    let rest = close_and_drain(&mut ws).await;
    assert!(matches!(&rest[..], [Message::Close(Some(f))] if f.code == CloseCode::Normal));
    assert!(matches!(
        ws.send(Message::text("after")).await,
        Err(wsx::Error::ConnectionClosed)
    ));
    server.await.unwrap();
}
