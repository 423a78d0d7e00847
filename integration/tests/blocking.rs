//! The blocking adapter against the tokio adapter, both directions, with
//! permessage-deflate, over loopback.

use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use ws_deflate::{DeflateConfig, PerMessageDeflateClient, PerMessageDeflateServer};
use ws_ext_core::{ClientNegotiator, ServerNegotiator};
use wsx::blocking;
use wsx::{ClientConfig, CloseFrame, Error, Message, ReadyState, ServerConfig};

fn server_config() -> ServerConfig {
    let pmd = PerMessageDeflateServer::try_new(DeflateConfig::default()).unwrap();
    ServerConfig::default().with_extensions(ServerNegotiator::new().with(pmd))
}

fn client_config() -> ClientConfig {
    let pmd = PerMessageDeflateClient::try_new(DeflateConfig::default()).unwrap();
    ClientConfig::default().with_extensions(ClientNegotiator::new().with(pmd))
}

fn payloads() -> Vec<Message> {
    let mut noise = vec![0u8; 200_000];
    let mut x: u32 = 0x9e37_79b9;
    for b in &mut noise {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    vec![
        Message::text("hello"),
        Message::text(""),
        Message::text("ünïcødé ".repeat(10_000)),
        Message::binary(vec![7u8; 1 << 20]),
        Message::binary(noise),
        Message::binary(Vec::new()),
    ]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn blocking_client_against_tokio_server() {
    let rt = runtime();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    // The server echoes and reports what it saw at the end.
    let server = rt.spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = wsx::accept_with(tcp, &server_config()).await.unwrap();
        let mut pongs = 0;
        let mut pinged = false;
        let mut close = None;
        while let Some(msg) = ws.next().await {
            match msg.unwrap() {
                m @ (Message::Text(_) | Message::Binary(_)) => ws.send(m).await.unwrap(),
                Message::Pong(p) => {
                    assert_eq!(&p[..], b"srv");
                    pongs += 1;
                }
                Message::Close(f) => close = f,
                _ => {}
            }
            if !pinged {
                // After the first message, ping the client once.
                ws.send(Message::Ping(b"srv".to_vec().into()))
                    .await
                    .unwrap();
                pinged = true;
            }
        }
        (pongs, close)
    });
    let client = thread::spawn(move || {
        let (mut ws, resp) =
            blocking::connect_with(&format!("ws://127.0.0.1:{port}/x"), &client_config()).unwrap();
        assert_eq!(resp.status(), 101);
        let ext = ws.extensions().expect("deflate negotiated").to_owned();
        assert!(ext.starts_with("permessage-deflate"), "{ext}");
        let mut saw_ping = false;
        for msg in payloads() {
            ws.send(msg.clone()).unwrap();
            let echo = loop {
                match ws.read().unwrap() {
                    Message::Ping(p) => {
                        assert_eq!(&p[..], b"srv");
                        saw_ping = true;
                    }
                    m => break m,
                }
            };
            assert_eq!(echo, msg);
        }
        assert!(saw_ping, "the server's ping reached the client");
        ws.close(Some(CloseFrame {
            code: 4000.into(),
            reason: "bye".into(),
        }))
        .unwrap();
        assert_eq!(ws.ready_state(), ReadyState::Closing);
        assert!(matches!(
            ws.send(Message::text("late")),
            Err(Error::SendAfterClose)
        ));
        match ws.read().unwrap() {
            Message::Close(Some(f)) => assert_eq!(u16::from(f.code), 4000),
            other => panic!("expected the close reply, got {other:?}"),
        }
        assert!(matches!(ws.read(), Err(Error::ConnectionClosed)));
        assert_eq!(ws.ready_state(), ReadyState::Closed);
    });
    // Drive the server while the client thread runs.
    let (pongs, close) = rt.block_on(server).unwrap();
    client.join().unwrap();
    assert_eq!(pongs, 1, "the client answered the ping automatically");
    let close = close.expect("close frame");
    assert_eq!(u16::from(close.code), 4000);
    assert_eq!(close.reason.as_str(), "bye");
}

#[test]
fn tokio_client_against_blocking_server() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut ws = blocking::accept_with(tcp, &server_config()).unwrap();
        assert!(ws.extensions().unwrap().starts_with("permessage-deflate"));
        let mut count = 0;
        loop {
            match ws.read() {
                Ok(m @ (Message::Text(_) | Message::Binary(_))) => {
                    count += 1;
                    ws.send(m).unwrap();
                }
                Ok(Message::Close(f)) => {
                    assert_eq!(u16::from(f.unwrap().code), 1000);
                }
                Ok(_) => {}
                Err(Error::ConnectionClosed) => break,
                Err(e) => panic!("server: {e}"),
            }
        }
        count
    });
    let rt = runtime();
    rt.block_on(async {
        let (mut ws, _) = wsx::connect_with(&format!("ws://127.0.0.1:{port}/"), &client_config())
            .await
            .unwrap();
        assert!(ws.extensions().unwrap().starts_with("permessage-deflate"));
        // The blocking server answers pings by itself.
        ws.send(Message::Ping(b"p1".to_vec().into())).await.unwrap();
        match ws.next().await.unwrap().unwrap() {
            Message::Pong(p) => assert_eq!(&p[..], b"p1"),
            other => panic!("expected a pong, got {other:?}"),
        }
        for msg in payloads() {
            ws.send(msg.clone()).await.unwrap();
            assert_eq!(ws.next().await.unwrap().unwrap(), msg);
        }
        ws.close().await.unwrap();
        match ws.next().await {
            Some(Ok(Message::Close(Some(f)))) => assert_eq!(u16::from(f.code), 1000),
            other => panic!("expected the close reply, got {other:?}"),
        }
        assert!(ws.next().await.is_none());
    });
    assert_eq!(server.join().unwrap(), payloads().len());
}

#[test]
fn blocking_to_blocking_with_batched_writes() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut ws = blocking::accept_with(tcp, &server_config()).unwrap();
        loop {
            match ws.read() {
                Ok(m @ (Message::Text(_) | Message::Binary(_))) => ws.send(m).unwrap(),
                Ok(_) => {}
                Err(Error::ConnectionClosed) => return,
                Err(e) => panic!("server: {e}"),
            }
        }
    });
    let (mut ws, _) =
        blocking::connect_with(&format!("ws://127.0.0.1:{port}/"), &client_config()).unwrap();
    // Queue many small messages, flush once, read them all back in order.
    for i in 0..500 {
        ws.write(Message::text(format!("message {i}"))).unwrap();
    }
    ws.flush().unwrap();
    assert_eq!(ws.buffered_amount(), 0);
    for i in 0..500 {
        assert_eq!(ws.read().unwrap(), Message::text(format!("message {i}")));
    }
    ws.close(None).unwrap();
    assert!(matches!(ws.read(), Ok(Message::Close(_))));
    assert!(matches!(ws.read(), Err(Error::ConnectionClosed)));
    server.join().unwrap();
}

#[test]
fn protocol_error_is_reported_after_the_close_handshake() {
    // A raw "client" that sends an unmasked frame: the blocking server fails
    // the connection with 1002 and reports the error once.
    use std::io::{Read, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut ws = blocking::accept(tcp).unwrap();
        let err = ws.read().unwrap_err();
        assert_eq!(err.close_code(), Some(wsx::CloseCode::Protocol), "{err}");
        assert!(matches!(ws.read(), Err(Error::ConnectionClosed)));
    });
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    tcp.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"));
    // Unmasked text frame "hi", then our close so the server can finish.
    tcp.write_all(&[0x81, 0x02, b'h', b'i']).unwrap();
    let mut frame = [0u8; 4];
    tcp.read_exact(&mut frame).unwrap();
    assert_eq!(frame[0], 0x88, "a close frame");
    assert_eq!(u16::from_be_bytes([frame[2], frame[3]]), 1002);
    tcp.write_all(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xea])
        .unwrap();
    server.join().unwrap();
}

#[test]
fn handshake_and_close_timeouts_apply_to_connect_with() {
    use std::io::{Read, Write};
    use std::time::Instant;
    // A server that accepts TCP and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let mut config = client_config();
    config.handshake_timeout = Duration::from_millis(300);
    let t0 = Instant::now();
    let err = blocking::connect_with(&format!("ws://127.0.0.1:{port}/"), &config).unwrap_err();
    assert!(
        matches!(err, Error::Handshake(wsx::HandshakeError::Timeout)),
        "{err:?}"
    );
    assert!(t0.elapsed() < Duration::from_secs(5));
    drop(silent);

    // A server that completes the handshake but never answers our close.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let server = thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            tcp.read_exact(&mut b).unwrap();
            head.push(b[0]);
        }
        let text = String::from_utf8(head).unwrap();
        let key = text
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap()
            .trim()
            .to_owned();
        let accept = wsx::proto::handshake::derive_accept_key(key.as_bytes());
        write!(
            tcp,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        )
        .unwrap();
        // Hold the connection open, silent, until the client is done.
        let _ = done_rx.recv_timeout(Duration::from_secs(10));
    });
    let mut config = ClientConfig::default();
    config.websocket.close_timeout = Duration::from_millis(300);
    let (mut ws, _) = blocking::connect_with(&format!("ws://127.0.0.1:{port}/"), &config).unwrap();
    ws.close(None).unwrap();
    let t0 = Instant::now();
    assert!(matches!(ws.read(), Err(Error::ConnectionClosed)));
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    assert_eq!(ws.ready_state(), ReadyState::Closed);
    done_tx.send(()).unwrap();
    server.join().unwrap();
}

/// Prepared messages on blocking server connections: encoded once for two
/// connections that share a key (no context takeover), delivered
/// byte-exact to both; a context-takeover connection encodes its own.
#[test]
fn blocking_servers_share_a_prepared_message() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let shared = ServerConfig::default()
        .with_deflate(Some(DeflateConfig::broadcast()))
        .unwrap();
    let own = ServerConfig::default();
    let server = thread::spawn(move || {
        let mut conns = Vec::new();
        for cfg in [&shared, &shared, &own] {
            let (tcp, _) = listener.accept().unwrap();
            conns.push(blocking::accept_with(tcp, cfg).unwrap());
        }
        assert!(conns[0].shared_key().is_some());
        assert_eq!(conns[0].shared_key(), conns[1].shared_key());
        assert!(conns[2].shared_key().is_none(), "context takeover");
        let mut prepared = Vec::new();
        for m in payloads() {
            let p = wsx::PreparedMessage::new(m).unwrap();
            let flags: Vec<bool> = conns
                .iter_mut()
                .map(|c| c.send_prepared(&p).unwrap())
                .collect();
            assert_eq!(flags, [true, true, false]);
            assert_eq!(p.encodings(), 1, "one compression for both sharers");
            assert_eq!(p.fallback_encodings(), 1, "its own for the third");
            prepared.push(p);
        }
        for mut c in conns {
            c.close(None).unwrap();
            while c.read().is_ok() {}
        }
    });
    clients_read_payloads(&url, 3);
    server.join().unwrap();
}

/// Broadcast cohorts on blocking server connections: two context-takeover
/// connections attached to one group are served by one compressor (each
/// message compressed once for both), byte-exact; a no-context one cannot
/// be attached (it shares whole frames instead).
#[test]
fn blocking_members_are_served_by_a_cohort() {
    use wsx::broadcast::{BroadcastConfig, Delivery};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let ctx = ServerConfig::default();
    let nct = ServerConfig::default()
        .with_deflate(Some(DeflateConfig::broadcast()))
        .unwrap();
    let server = thread::spawn(move || {
        let room = wsx::Broadcast::new(BroadcastConfig::default().with_queue_capacity(256));
        let mut members = Vec::new();
        for cfg in [&ctx, &ctx, &nct] {
            let (tcp, _) = listener.accept().unwrap();
            members.push((blocking::accept_with(tcp, cfg).unwrap(), room.subscribe()));
        }
        let attached: Vec<bool> = members
            .iter_mut()
            .map(|(ws, sub)| sub.attach_blocking(ws))
            .collect();
        assert_eq!(attached, [true, true, false]);
        let mut prepared = Vec::new();
        for m in payloads() {
            let p = std::sync::Arc::new(wsx::PreparedMessage::new(m).unwrap());
            room.send(p.clone());
            prepared.push(p);
        }
        for (ws, sub) in &mut members {
            while let Some(Delivery::Message(m)) = sub.try_recv() {
                assert!(ws.write_prepared(&m).unwrap(), "a cohort or shared frame");
            }
            ws.flush().unwrap();
        }
        for p in &prepared {
            assert_eq!(p.cohort_encodings(), 1, "one compression for the cohort");
            assert_eq!(p.encodings(), 1, "one for the no-context member");
            assert_eq!(p.fallback_encodings(), 0);
        }
        for (mut ws, _) in members {
            ws.close(None).unwrap();
            while ws.read().is_ok() {}
        }
    });
    clients_read_payloads(&url, 3);
    server.join().unwrap();
}

/// `n` clients connect to `url` (in order), each reads [`payloads`]
/// byte-exact, then nothing but the server's close.
fn clients_read_payloads(url: &str, n: usize) {
    let mut clients: Vec<_> = (0..n)
        .map(|_| blocking::connect_with(url, &client_config()).unwrap().0)
        .collect();
    for (i, c) in clients.iter_mut().enumerate() {
        for m in payloads() {
            assert_eq!(c.read().unwrap(), m, "client {i}");
        }
    }
    for c in &mut clients {
        loop {
            match c.read() {
                Ok(Message::Close(_)) => {}
                Ok(m) => panic!("unexpected {m:?}"),
                Err(_) => break,
            }
        }
    }
}
