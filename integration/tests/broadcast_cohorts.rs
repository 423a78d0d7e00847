//! Broadcast cohorts over loopback: members whose compressor keeps
//! context share one compression per cohort, and stay decodable through
//! late joins, private messages of their own, merged cohorts and dropped
//! messages (every client checks every message byte-exact, in order).

mod common;

use std::sync::Arc;

use common::{deflate_client, deflate_server, next_data, wait_members};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::watch;
use ws_deflate::{DeflateConfig, DeflatePool, PerMessageDeflateServer};
use ws_ext_core::ServerNegotiator;
use wsx::broadcast::{BroadcastConfig, Delivery, Subscription};
use wsx::{Broadcast, Message, PreparedMessage, ServerConfig};

type Ws = wsx::WebSocketStream<tokio::net::TcpStream>;

/// How the server runs one member.
#[derive(Clone, Default)]
struct Plan {
    /// After room message `n`, send a private message of its own when
    /// `(n + id) % every == 0`.
    private_every: Option<usize>,
    /// Drain the subscription only once this turns true.
    gate: Option<watch::Receiver<bool>>,
}

/// Room message `n`: chat JSON that repeats earlier messages' words (so
/// context takeover pays) and sometimes runs to a few KiB.
fn room_message(n: usize) -> Message {
    const USERS: [&str; 4] = ["ada", "grace", "linus", "barbara"];
    const WORDS: [&str; 8] = [
        "hello",
        "everyone",
        "the build is green",
        "who broke main?",
        "ünïcødé",
        "lunch at noon",
        "shipping it",
        "deflate all the things",
    ];
    let mut text = String::new();
    for i in 0..(1 + (n * 7) % 5) {
        text.push_str(WORDS[(n + i * 3) % WORDS.len()]);
        text.push(' ');
    }
    if n % 9 == 4 {
        text = text.repeat(60);
    }
    Message::text(format!(
        "{{\"seq\":{n},\"user\":\"{}\",\"text\":\"{text}\"}}",
        USERS[n % USERS.len()]
    ))
}

fn seq_of(m: &Message) -> Option<usize> {
    let t = m.to_text().ok()?;
    let rest = t.strip_prefix("{\"seq\":")?;
    rest[..rest.find(',')?].parse().ok()
}

/// Long enough to be compressed (so that it enters the peer's window).
fn private_message(id: usize, n: usize) -> Message {
    Message::text(format!("private to member {id} after room message {n}: ").repeat(8))
}

/// The server side of one member: attach, then write what the group
/// delivers (and private messages, per `plan`) until the peer goes.
async fn member(mut ws: Ws, mut me: Subscription, id: usize, plan: Plan) {
    assert!(me.attach(&mut ws), "a context-takeover server connection");
    if let Some(mut gate) = plan.gate {
        let _ = gate.wait_for(|open| *open).await;
    }
    loop {
        tokio::select! {
            d = me.recv() => match d {
                Delivery::Message(m) => {
                    ws.send_prepared(&m).await.unwrap();
                    let n = seq_of(m.message()).unwrap();
                    if plan.private_every.is_some_and(|every| (n + id) % every == 0) {
                        ws.send(private_message(id, n)).await.unwrap();
                    }
                }
                _ => break,
            },
            m = ws.next() => match m {
                Some(Ok(_)) => {}
                _ => break,
            },
        }
    }
}

/// A server whose i-th accepted connection runs `plans[i]` in `room`,
/// with permessage-deflate and context takeover.
async fn server(room: Broadcast, plans: Vec<Plan>) -> String {
    server_with(room, plans, deflate_server(DeflateConfig::default())).await
}

/// [`server`] with the caller's server config.
async fn server_with(room: Broadcast, plans: Vec<Plan>, cfg: ServerConfig) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/room", listener.local_addr().unwrap());
    tokio::spawn(async move {
        for (id, plan) in plans.into_iter().enumerate() {
            let (tcp, _) = listener.accept().await.unwrap();
            let (room, cfg) = (room.clone(), cfg.clone());
            tokio::spawn(async move {
                let ws = wsx::accept_with(tcp, &cfg).await.unwrap();
                let me = room.subscribe();
                member(ws, me, id, plan).await;
            });
        }
    });
    url
}

async fn connect(url: &str) -> wsx::WebSocketStream<wsx::MaybeTlsStream<tokio::net::TcpStream>> {
    let (ws, _) = wsx::connect_with(url, &deflate_client()).await.unwrap();
    let ext = ws.extensions().unwrap_or_default().to_owned();
    assert!(
        ext.starts_with("permessage-deflate") && !ext.contains("server_no_context_takeover"),
        "context takeover negotiated: {ext}"
    );
    ws
}

fn send_all(room: &Broadcast, range: std::ops::Range<usize>) -> Vec<Arc<PreparedMessage>> {
    range
        .map(|n| {
            let p = Arc::new(PreparedMessage::new(room_message(n)).unwrap());
            room.send(p.clone());
            p
        })
        .collect()
}

#[tokio::test]
async fn members_that_keep_context_share_one_compression() {
    const N: usize = 12;
    const M: usize = 80;
    let room = Broadcast::new(BroadcastConfig::default().with_queue_capacity(256));
    let url = server(room.clone(), vec![Plan::default(); N]).await;
    let mut clients = Vec::new();
    for _ in 0..N {
        clients.push(connect(&url).await);
    }
    wait_members(&room, N).await;
    let prepared = send_all(&room, 0..M);
    assert_eq!(room.cohorts(), 1);
    for (c, ws) in clients.iter_mut().enumerate() {
        for n in 0..M {
            assert_eq!(
                next_data(ws).await,
                room_message(n),
                "client {c} message {n}"
            );
        }
    }
    for (n, p) in prepared.iter().enumerate() {
        assert_eq!(p.cohort_encodings(), 1, "message {n}: compressed once");
        assert_eq!(p.fallback_encodings(), 0, "message {n}");
        assert_eq!(p.encodings(), 0, "message {n}: no context-free frame");
    }
}

/// Members join in three waves between sends, every member sends private
/// messages of its own now and then (it leaves its cohort: the peer's
/// stream is no longer the cohort's), and at most two cohorts may exist,
/// so cohorts keep merging. Every client must still decode every message.
#[tokio::test]
async fn late_joins_private_messages_and_merged_cohorts_stay_decodable() {
    const WAVE: usize = 4;
    const PER_WAVE: usize = 30;
    let room = Broadcast::new(
        BroadcastConfig::default()
            .with_queue_capacity(512)
            .with_max_cohorts(2),
    );
    let plan = Plan {
        private_every: Some(7),
        gate: None,
    };
    let url = server(room.clone(), vec![plan; 3 * WAVE]).await;
    // (client, its member id, the first room message it gets)
    let mut clients = Vec::new();
    let mut prepared = Vec::new();
    for wave in 0..3 {
        for _ in 0..WAVE {
            let id = clients.len();
            clients.push((connect(&url).await, id, wave * PER_WAVE));
        }
        wait_members(&room, clients.len()).await;
        for n in wave * PER_WAVE..(wave + 1) * PER_WAVE {
            prepared.extend(send_all(&room, n..n + 1));
            assert!(room.cohorts() <= 2, "at most max_cohorts");
            tokio::task::yield_now().await;
        }
    }
    let total = 3 * PER_WAVE;
    for (ws, id, first) in clients.iter_mut() {
        for n in *first..total {
            assert_eq!(
                next_data(ws).await,
                room_message(n),
                "member {id} message {n}"
            );
            if (n + *id) % 7 == 0 {
                assert_eq!(next_data(ws).await, private_message(*id, n), "member {id}");
            }
        }
    }
    let cohort: usize = prepared.iter().map(|p| p.cohort_encodings()).sum();
    let fallback: usize = prepared.iter().map(|p| p.fallback_encodings()).sum();
    let deliveries: usize = clients.iter().map(|(_, _, first)| total - first).sum();
    assert!(prepared.iter().all(|p| p.cohort_encodings() <= 2));
    assert!(
        cohort + fallback < deliveries / 2,
        "{cohort} cohort + {fallback} own encodings for {deliveries} deliveries"
    );
}

/// One member's connection does not drain its queue for a while: it
/// overflows (drop the oldest) and misses messages, so it leaves its
/// cohort; it must decode what it does get, in order, and the others
/// everything.
#[tokio::test]
async fn a_member_that_misses_messages_still_decodes_the_rest() {
    const M: usize = 60;
    let room = Broadcast::new(BroadcastConfig::default().with_queue_capacity(4));
    let (open, gate) = watch::channel(false);
    let mut plans = vec![Plan::default(); 3];
    plans[1].gate = Some(gate);
    let url = server(room.clone(), plans).await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(connect(&url).await);
    }
    wait_members(&room, 3).await;
    let mut dropped = 0;
    for n in 0..M {
        let p = PreparedMessage::new(room_message(n)).unwrap();
        dropped += room.send(p).dropped_oldest;
        if n == M / 2 {
            open.send(true).unwrap(); // the slow member starts draining
        }
        // The fast members drain as we go (their queues hold 4).
        for c in [0, 2] {
            assert_eq!(
                next_data(&mut clients[c]).await,
                room_message(n),
                "client {c}"
            );
        }
    }
    assert!(dropped > 0, "the slow member's queue overflowed");
    let mut last = None;
    let mut got = 0;
    while last != Some(M - 1) {
        let m = next_data(&mut clients[1]).await;
        let n = seq_of(&m).expect("a room message");
        assert!(last < Some(n), "in order");
        assert_eq!(m, room_message(n), "byte-exact");
        last = Some(n);
        got += 1;
    }
    assert_eq!(got + dropped, M, "every message arrived or was dropped");
}

/// A quiet group's cohort compressors hibernate (pack their window, go back
/// to the pool) and the next messages, compressed by a restored one, still
/// decode at every member.
#[tokio::test]
async fn a_quiet_groups_cohorts_hibernate_and_carry_on() {
    const N: usize = 4;
    let room = Broadcast::new(BroadcastConfig::default().with_queue_capacity(256));
    let pool = DeflatePool::new(16);
    let cfg = ServerConfig::default().with_extensions(
        ServerNegotiator::new()
            .with(PerMessageDeflateServer::new(DeflateConfig::default()).with_pool(pool.clone())),
    );
    let url = server_with(room.clone(), vec![Plan::default(); N], cfg).await;
    let mut clients = Vec::new();
    for _ in 0..N {
        clients.push(connect(&url).await);
    }
    wait_members(&room, N).await;
    send_all(&room, 0..30);
    assert_eq!(
        room.hibernate_if_idle(std::time::Duration::from_secs(60)),
        0,
        "not idle that long"
    );
    let (idle_before, _) = pool.idle();
    assert_eq!(room.hibernate_if_idle(std::time::Duration::ZERO), 1);
    // (Packing the window may leave the packer's compressor idle too.)
    let (idle_after, _) = pool.idle();
    assert!(
        idle_after > idle_before,
        "the cohort's compressor went back to the pool: {idle_before} -> {idle_after}"
    );
    send_all(&room, 30..60);
    assert_eq!(pool.idle().0, idle_after - 1, "and came out again");
    for (c, ws) in clients.iter_mut().enumerate() {
        for n in 0..60 {
            assert_eq!(
                next_data(ws).await,
                room_message(n),
                "client {c} message {n}"
            );
        }
    }
}
