//! Broadcast over loopback: prepared messages compressed once per encoding
//! key and shared, mixed recipients, and a stalled recipient under both
//! overflow policies.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{deflate_client, deflate_server, next_data, wait_members};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;
use ws_deflate::DeflateConfig;
use wsx::broadcast::{serve_member, BroadcastConfig, MemberEnd, Overflow};
use wsx::{Broadcast, Message, PreparedMessage, ServerConfig, WebSocketConfig};

type Ends = mpsc::UnboundedReceiver<(usize, Result<MemberEnd, String>)>;

/// A server whose i-th accepted connection uses `configs[i]` and joins
/// `room`; each member's end is reported on the returned channel.
async fn server(room: Broadcast, configs: Vec<ServerConfig>) -> (String, Ends) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    server_on(listener, room, configs)
}

/// [`server`] on a listener of the caller's.
fn server_on(listener: TcpListener, room: Broadcast, configs: Vec<ServerConfig>) -> (String, Ends) {
    let url = format!("ws://{}/room", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        for (i, cfg) in configs.into_iter().enumerate() {
            let (tcp, _) = listener.accept().await.unwrap();
            let room = room.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut ws = wsx::accept_with(tcp, &cfg).await.unwrap();
                let mut me = room.subscribe();
                let end = serve_member(&mut ws, &mut me, |_| {}).await;
                let _ = tx.send((i, end.map_err(|e| e.to_string())));
            });
        }
    });
    (url, rx)
}

fn messages(n: usize) -> Vec<Message> {
    (0..n)
        .map(|i| match i % 4 {
            0 => Message::text(format!(
                "{{\"room\":\"lobby\",\"seq\":{i},\"user\":\"ada\",\"text\":\"hello everyone\"}}"
            )),
            1 => Message::binary(
                (0..3000u32)
                    .map(|j| (j * 7 + i as u32) as u8)
                    .collect::<Vec<u8>>(),
            ),
            2 => Message::text("ünïcødé ".repeat(3000 + i)),
            _ => Message::text(""),
        })
        .collect()
}

#[tokio::test]
async fn no_context_takeover_recipients_share_one_compression() {
    shared_compression(5, 40).await;
}

#[tokio::test]
async fn a_hundred_recipients_share_one_compression() {
    shared_compression(100, 8).await;
}

/// `n` compressed recipients, `count` messages: each message compressed
/// once, every recipient gets every message.
async fn shared_compression(n: usize, count: usize) {
    let room = Broadcast::new(BroadcastConfig::default().with_queue_capacity(256));
    let configs = vec![deflate_server(DeflateConfig::broadcast()); n];
    let (url, _ends) = server(room.clone(), configs).await;
    let mut clients = Vec::new();
    for _ in 0..n {
        // The client does not ask for server_no_context_takeover: the
        // server imposes it.
        let (ws, _) = wsx::connect_with(&url, &deflate_client()).await.unwrap();
        let ext = ws.extensions().unwrap().to_owned();
        assert!(ext.contains("server_no_context_takeover"), "{ext}");
        clients.push(ws);
    }
    wait_members(&room, n).await;
    let msgs = messages(count);
    let prepared: Vec<Arc<PreparedMessage>> = msgs
        .iter()
        .map(|m| Arc::new(PreparedMessage::new(m.clone()).unwrap()))
        .collect();
    for p in &prepared {
        let r = room.send(p.clone());
        assert_eq!(r.queued, n);
    }
    for ws in &mut clients {
        for (i, m) in msgs.iter().enumerate() {
            assert_eq!(&next_data(ws).await, m, "message {i}");
        }
    }
    for (i, p) in prepared.iter().enumerate() {
        assert_eq!(
            p.encodings(),
            1,
            "message {i} compressed once for {n} recipients"
        );
        assert_eq!(p.fallback_encodings(), 0);
        assert_eq!(p.keys().len(), 1);
        assert!(p.keys()[0].as_str().starts_with("permessage-deflate;nct;"));
    }
}

#[tokio::test]
async fn mixed_recipients_all_get_every_message_in_order() {
    let room = Broadcast::new(BroadcastConfig::default().with_queue_capacity(256));
    let configs = vec![
        ServerConfig::default().without_extensions(), // no deflate: plain frames
        deflate_server(DeflateConfig::default()),     // context takeover
        deflate_server(DeflateConfig::broadcast()),   // shared, compressed
        deflate_server(DeflateConfig::broadcast()),
        deflate_server(DeflateConfig::broadcast()),
        ServerConfig::default().without_extensions(), // plain again: shares the plain frame
    ];
    let n = configs.len();
    let (url, _ends) = server(room.clone(), configs).await;
    let mut clients = Vec::new();
    for _ in 0..n {
        let (ws, _) = wsx::connect_with(&url, &deflate_client()).await.unwrap();
        clients.push(ws);
    }
    assert_eq!(clients[0].extensions(), None);
    assert!(!clients[1]
        .extensions()
        .unwrap()
        .contains("server_no_context_takeover"));
    wait_members(&room, n).await;
    let msgs = messages(60);
    let prepared: Vec<Arc<PreparedMessage>> = msgs
        .iter()
        .map(|m| Arc::new(PreparedMessage::new(m.clone()).unwrap()))
        .collect();
    // Sent while the clients read: deliveries interleave with sends.
    let sender = {
        let (room, prepared) = (room.clone(), prepared.clone());
        tokio::spawn(async move {
            for p in prepared {
                room.send(p);
                tokio::task::yield_now().await;
            }
        })
    };
    for (c, ws) in clients.iter_mut().enumerate() {
        for (i, m) in msgs.iter().enumerate() {
            assert_eq!(&next_data(ws).await, m, "client {c} message {i}");
        }
    }
    sender.await.unwrap();
    for (i, p) in prepared.iter().enumerate() {
        assert_eq!(p.encodings(), 2, "message {i}: plain + one compressed");
        assert_eq!(
            p.cohort_encodings(),
            1,
            "message {i}: the context-takeover one, by its cohort"
        );
        assert_eq!(p.fallback_encodings(), 0, "message {i}");
    }
}

/// A raw TCP client that completes the handshake (no extension) and then
/// never reads; a tiny receive buffer makes it stall quickly.
async fn stalled_client(url: &str) -> TcpStream {
    let addr = url
        .trim_start_matches("ws://")
        .trim_end_matches("/room")
        .parse()
        .unwrap();
    let sock = TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let mut tcp = sock.connect(addr).await.unwrap();
    tcp.write_all(
        b"GET /room HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        tcp.read_exact(&mut b).await.unwrap();
        head.push(b[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"));
    tcp
}

struct StallRun {
    dropped_oldest: usize,
    closed: usize,
    max_held: usize,
    stalled: TcpStream,
    ends: Ends,
    room: Broadcast,
}

/// Two fast wsx clients and one stalled raw client; 200 messages of
/// 64 KiB, each read by both fast clients before the next is sent (they
/// must never wait on the stalled one).
async fn stall_run(overflow: Overflow) -> StallRun {
    const CAP: usize = 8;
    let room = Broadcast::new(
        BroadcastConfig::default()
            .with_queue_capacity(CAP)
            .with_overflow(overflow),
    );
    let ws_cfg = WebSocketConfig::default()
        .with_write_buffer_size(16 << 10)
        .with_close_timeout(Duration::from_millis(300));
    let cfg = deflate_server(DeflateConfig::broadcast()).with_websocket(ws_cfg);
    let (url, ends) = server(room.clone(), vec![cfg; 3]).await;
    let (mut a, _) = wsx::connect_with(&url, &deflate_client()).await.unwrap();
    let stalled = stalled_client(&url).await;
    let (mut b, _) = wsx::connect_with(&url, &deflate_client()).await.unwrap();
    wait_members(&room, 3).await;

    let mut run = StallRun {
        dropped_oldest: 0,
        closed: 0,
        max_held: 0,
        stalled,
        ends,
        room: room.clone(),
    };
    let mut prepared: Vec<Arc<PreparedMessage>> = Vec::new();
    let t0 = Instant::now();
    let mut slowest = Duration::ZERO;
    for i in 0..200u32 {
        let mut payload = vec![0u8; 64 << 10];
        for (j, x) in payload.iter_mut().enumerate() {
            *x = (j as u32 ^ i).wrapping_mul(2_654_435_761) as u8 >> 3;
        }
        let m = Message::binary(payload);
        let p = Arc::new(PreparedMessage::new(m.clone()).unwrap());
        let sent = Instant::now();
        let r = room.send(p.clone());
        run.dropped_oldest += r.dropped_oldest;
        run.closed += r.closed;
        prepared.push(p);
        assert_eq!(next_data(&mut a).await, m, "fast client a, message {i}");
        assert_eq!(next_data(&mut b).await, m, "fast client b, message {i}");
        slowest = slowest.max(sent.elapsed());
        // Prepared messages still held by some member queue (ours and the
        // one just sent aside): bounded by the queue capacity.
        let held = prepared.iter().filter(|p| Arc::strong_count(p) > 1).count();
        run.max_held = run.max_held.max(held);
    }
    assert!(
        slowest < Duration::from_secs(2),
        "a fast client waited {slowest:?} for a message"
    );
    eprintln!(
        "{overflow:?}: 200 x 64 KiB in {:?}, slowest delivery {slowest:?}, dropped {}, closed {}, max held {}",
        t0.elapsed(),
        run.dropped_oldest,
        run.closed,
        run.max_held
    );
    run
}

#[tokio::test]
async fn stalled_recipient_drops_oldest_and_never_delays_the_others() {
    let run = stall_run(Overflow::DropOldest).await;
    assert!(run.dropped_oldest > 0, "the stalled queue overflowed");
    assert_eq!(run.closed, 0);
    assert!(run.max_held <= 8 + 1, "held {}", run.max_held);
    assert_eq!(run.room.len(), 3, "DropOldest keeps the slow member");
    drop(run.stalled);
}

/// A stall-timeout group, one plain member with a small write buffer,
/// and a raw client; 64 messages of 64 KiB sent (more than the socket
/// buffers hold). The server's socket send buffer is small too, so that
/// what the client reads frees room the server sees within a period (the
/// kernel wakes a writer only once a good part of its send buffer is free).
async fn stall_timeout_run(stall: Duration) -> (Broadcast, TcpStream, Ends) {
    let room = Broadcast::new(
        BroadcastConfig::default()
            .with_queue_capacity(4)
            .with_stall_timeout(Some(stall)),
    );
    let cfg = ServerConfig::default()
        .without_extensions()
        .with_websocket(WebSocketConfig::default().with_write_buffer_size(16 << 10));
    let sock = TcpSocket::new_v4().unwrap();
    sock.set_send_buffer_size(8 << 10).unwrap();
    sock.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let (url, ends) = server_on(sock.listen(16).unwrap(), room.clone(), vec![cfg]);
    let client = stalled_client(&url).await;
    wait_members(&room, 1).await;
    for i in 0..64u32 {
        room.send_message(Message::binary(vec![i as u8; 64 << 10]));
        tokio::task::yield_now().await;
    }
    (room, client, ends)
}

#[tokio::test]
async fn a_member_that_stops_reading_for_good_is_given_up_after_the_stall_timeout() {
    let t0 = Instant::now();
    let (room, stalled, mut ends) = stall_timeout_run(Duration::from_millis(300)).await;
    let (_, end) = tokio::time::timeout(Duration::from_secs(5), ends.recv())
        .await
        .expect("given up in time")
        .unwrap();
    assert_eq!(end.unwrap(), MemberEnd::Stalled);
    assert!(t0.elapsed() >= Duration::from_millis(300));
    while !room.is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(5), "left the group");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(stalled);
}

#[tokio::test]
async fn a_slow_member_that_still_reads_is_not_given_up() {
    let (room, mut slow, mut ends) = stall_timeout_run(Duration::from_millis(300)).await;
    // 4 KiB every 50 ms: far slower than the server writes, but progress
    // in every stall period.
    let t0 = Instant::now();
    let mut buf = vec![0u8; 4096];
    while t0.elapsed() < Duration::from_millis(1500) {
        let n = slow.read(&mut buf).await.unwrap();
        assert!(n > 0, "the server hung up on a reading member");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ends.try_recv().is_err(), "the member ended while read from");
    assert_eq!(room.len(), 1);
}

#[tokio::test]
async fn stalled_recipient_is_closed_with_the_chosen_code() {
    let mut run = stall_run(Overflow::close(1008).unwrap()).await;
    assert_eq!(run.closed, 1);
    assert_eq!(run.dropped_oldest, 0);
    assert!(run.max_held <= 8 + 1, "held {}", run.max_held);
    assert_eq!(run.room.len(), 2, "the slow member left the group");
    // The fast clients were dropped when the run ended; find the stalled
    // member's (the second accepted) end among theirs.
    let end = loop {
        let (i, end) = tokio::time::timeout(Duration::from_secs(10), run.ends.recv())
            .await
            .expect("the stalled member ended in time")
            .unwrap();
        if i == 1 {
            break end;
        }
    };
    match end {
        Ok(MemberEnd::Overflowed { code, .. }) => assert_eq!(u16::from(code), 1008),
        other => panic!("{other:?}"),
    }
    // Its connection is gone: reading drains what was in flight, then the
    // stream ends (EOF or reset) in bounded time.
    let mut buf = vec![0u8; 1 << 16];
    let t0 = Instant::now();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), run.stalled.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(_)) => assert!(t0.elapsed() < Duration::from_secs(20)),
            Err(_) => panic!("the slow connection was not closed"),
        }
    }
}

#[test]
fn only_data_messages_can_be_prepared_and_close_codes_are_checked() {
    assert!(PreparedMessage::new(Message::Ping(Default::default())).is_err());
    assert!(PreparedMessage::new(Message::Close(None)).is_err());
    assert!(Overflow::close(1013).is_some());
    assert!(Overflow::close(1000).is_none());
    let room = Broadcast::new(BroadcastConfig::default().with_queue_capacity(0));
    assert_eq!(room.config().queue_capacity, 1);
    let mut a = room.subscribe();
    let r = room.send_message(Message::text("x"));
    assert_eq!(r.queued, 1);
    let r = room.send_message(Message::text("y"));
    assert_eq!(r.dropped_oldest, 1);
    assert_eq!(a.dropped(), 1);
    match a.try_recv() {
        Some(wsx::broadcast::Delivery::Message(m)) => {
            assert_eq!(m.message(), &Message::text("y"))
        }
        other => panic!("{other:?}"),
    }
    drop(a);
    assert!(room.is_empty());
}

/// A member that cannot keep up with a burst (capacity 1, ten messages
/// queued before its task runs) but does read gets the close frame with
/// the chosen code.
#[tokio::test]
async fn a_reading_member_that_overflows_gets_the_close_code() {
    let room = Broadcast::new(
        BroadcastConfig::default()
            .with_queue_capacity(1)
            .with_overflow(Overflow::close(1013).unwrap()),
    );
    let (url, mut ends) = server(room.clone(), vec![ServerConfig::default()]).await;
    let (mut ws, _) = wsx::connect(&url).await.unwrap();
    wait_members(&room, 1).await;
    // No await in between: the member's task cannot drain its queue.
    let mut closed = 0;
    for i in 0..10 {
        closed += room
            .send_message(Message::text(format!("burst {i}")))
            .closed;
    }
    assert_eq!(closed, 1);
    assert!(room.is_empty());
    let mut got_close = None;
    while let Some(m) = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
    {
        match m.unwrap() {
            Message::Close(f) => got_close = f.map(|f| u16::from(f.code)),
            m => assert!(m.is_text(), "{m:?}"),
        }
    }
    assert_eq!(got_close, Some(1013));
    let (_, end) = ends.recv().await.unwrap();
    assert_eq!(
        end.unwrap(),
        MemberEnd::Overflowed {
            code: wsx::CloseCode::from(1013),
            sent: true
        }
    );
}

/// `send_prepared` without a group: a server shares, a client (masked
/// frames) encodes on its own; both deliver the message.
#[tokio::test]
async fn send_prepared_shares_on_servers_and_falls_back_on_clients() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let accept = tokio::spawn(async move {
        let cfg = deflate_server(DeflateConfig::broadcast());
        let mut v = Vec::new();
        for _ in 0..2 {
            let (tcp, _) = listener.accept().await.unwrap();
            v.push(wsx::accept_with(tcp, &cfg).await.unwrap());
        }
        v
    });
    let (mut c1, _) = wsx::connect_with(&url, &deflate_client()).await.unwrap();
    let (mut c2, _) = wsx::connect_with(&url, &deflate_client()).await.unwrap();
    let mut servers = accept.await.unwrap();
    let msg = Message::text("{\"hello\":\"everyone\"} ".repeat(50));
    let p = PreparedMessage::new(msg.clone()).unwrap();
    for s in &mut servers {
        assert!(s.shared_key().is_some());
        assert!(s.send_prepared(&p).await.unwrap(), "shared");
    }
    assert_eq!(p.encodings(), 1);
    assert_eq!(next_data(&mut c1).await, msg);
    assert_eq!(next_data(&mut c2).await, msg);
    // A client: no key, its own (masked) encoding.
    assert!(c1.shared_key().is_none());
    assert!(!c1.send_prepared(&p).await.unwrap());
    assert_eq!(p.fallback_encodings(), 1);
    assert_eq!(next_data(&mut servers[0]).await, msg);
}

/// A member whose write queue filled (its peer paused reading) carries on
/// once the peer reads again: it is not left waiting for input.
#[tokio::test]
async fn a_paused_reader_resumes_and_gets_the_latest_messages() {
    let room = Broadcast::new(BroadcastConfig::default().with_queue_capacity(16));
    // Uncompressed, so that 64 KiB of one byte stays 64 KiB on the wire.
    let cfg = ServerConfig::default()
        .without_extensions()
        .with_websocket(WebSocketConfig::default().with_write_buffer_size(16 << 10));
    let (url, _ends) = server(room.clone(), vec![cfg]).await;
    let (mut ws, _) = wsx::connect(&url).await.unwrap();
    wait_members(&room, 1).await;
    // 12.8 MB while the client does not read: more than the socket
    // buffers hold, so the server's write queue fills and the member's
    // queue overflows.
    let mut dropped = 0;
    for i in 0..200u32 {
        let r = room.send_message(Message::binary(vec![i as u8; 64 << 10]));
        dropped += r.dropped_oldest;
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let last = Message::text("the last one");
    // (The queue may still be full: this one can drop the oldest too.)
    dropped += room.send_message(last.clone()).dropped_oldest;
    // Now read: the backlog, then (without sending anything) the last.
    let mut seen = 0u32;
    let mut prev = None;
    loop {
        let m = next_data(&mut ws).await;
        if m == last {
            break;
        }
        let b = m.into_data();
        assert_eq!(b.len(), 64 << 10);
        assert!(prev < Some(b[0]), "in order");
        prev = Some(b[0]);
        seen += 1;
    }
    assert!(dropped > 0, "the queue overflowed");
    assert_eq!(
        seen as usize + dropped,
        200,
        "every message arrived or was dropped"
    );
}

/// Dropping the last handle of a group ends its members' waits.
#[tokio::test]
async fn members_see_the_end_of_their_group() {
    let room = Broadcast::new(BroadcastConfig::default());
    let mut a = room.subscribe();
    room.send_message(Message::binary(vec![1u8]));
    let waiter = tokio::spawn(async move {
        let first = a.recv().await;
        let second = a.recv().await;
        (first, second)
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(room);
    let (first, second) = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("the wait ended")
        .unwrap();
    assert!(matches!(first, wsx::broadcast::Delivery::Message(_)));
    assert!(matches!(second, wsx::broadcast::Delivery::Ended));
}
