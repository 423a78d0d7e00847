//! Broadcast cohorts under random interleavings, with no socket: blocking
//! server connections over in-memory buffers, one group, and for each
//! member a client connection that decodes (inflates) everything its
//! server side wrote. Seeded scenarios mix broadcasts, members draining at
//! different speeds (small queues: messages get dropped), direct messages
//! of a member's own, joins (attached or not), leaves, several
//! permessage-deflate settings (so several cohort keys), a small cohort
//! limit (merges), and hibernation of the cohorts. Every client must read
//! exactly what its server side wrote, byte-exact and in order.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::rc::Rc;
use std::sync::Arc;

use bytes::BytesMut;
use ws_deflate::{DeflateConfig, PerMessageDeflateClient, PerMessageDeflateServer};
use ws_ext_core::{ClientNegotiator, ExtensionStack, ServerNegotiator};
use wsx::blocking::WebSocket;
use wsx::broadcast::{BroadcastConfig, Delivery, Subscription};
use wsx::{Broadcast, Message, PreparedMessage, Role, WebSocketConfig};
use wsx_corpus::Rng;

/// What a server connection writes, kept for its client.
#[derive(Clone, Default)]
struct Wire(Rc<RefCell<Vec<u8>>>);

impl Write for Wire {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for Wire {
    /// The server side never reads here.
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::ErrorKind::WouldBlock.into())
    }
}

/// A client reading a finished byte stream; what it writes goes nowhere.
struct Replay(io::Cursor<Vec<u8>>);

impl Read for Replay {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        self.0.read(b)
    }
}

impl Write for Replay {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// True `percent` times in a hundred.
fn chance(rng: &mut Rng, percent: u64) -> bool {
    rng.below(100) < percent
}

/// Negotiated stacks for (server, client) with the server at `cfg`.
fn stacks(cfg: DeflateConfig) -> (ExtensionStack, ExtensionStack) {
    let c = ClientNegotiator::new().with(PerMessageDeflateClient::new(DeflateConfig::default()));
    let s = ServerNegotiator::new().with(PerMessageDeflateServer::new(cfg));
    let offer = c.offer_header().unwrap();
    let server = s.negotiate([offer.as_bytes()]).unwrap();
    let response = server.response_header().unwrap();
    let client = c.finish([response.as_bytes()]).unwrap();
    (server, client)
}

const WORDS: [&str; 10] = [
    "hello",
    "everyone",
    "green build",
    "who broke main",
    "ünïcødé",
    "lunch",
    "ship it",
    "deflate",
    "数据",
    "😀",
];

fn message(rng: &mut Rng, n: usize) -> Message {
    match rng.below(20) {
        0 => Message::binary(
            (0..rng.below(3000))
                .map(|i| (i * 7 % 251) as u8)
                .collect::<Vec<u8>>(),
        ),
        1 => Message::text(""),
        2 => Message::text(format!("{n} {}", WORDS[n % WORDS.len()].repeat(600))),
        _ => {
            let words: Vec<&str> = (0..1 + rng.below(40))
                .map(|_| WORDS[rng.below(WORDS.len() as u64) as usize])
                .collect();
            Message::text(format!("{{\"seq\":{n},\"text\":\"{}\"}}", words.join(" ")))
        }
    }
}

struct Member {
    ws: WebSocket<Wire>,
    wire: Wire,
    client: ExtensionStack,
    sub: Option<Subscription>,
    /// What the server side wrote, in order.
    expected: Vec<Message>,
}

fn join(room: &Broadcast, rng: &mut Rng, members: &mut Vec<Member>) {
    let cfg = match rng.below(6) {
        0 => DeflateConfig::default().with_server_max_window_bits(Some(10)),
        1 => DeflateConfig::broadcast_cohorts(),
        2 => DeflateConfig::broadcast(), // no context: whole shared frames
        _ => DeflateConfig::default(),
    };
    let (server, client) = stacks(cfg);
    let wire = Wire::default();
    let mut ws = WebSocket::from_parts(
        wire.clone(),
        Role::Server,
        server,
        None,
        WebSocketConfig::default(),
        BytesMut::new(),
    );
    let sub = room.subscribe();
    if chance(rng, 85) {
        sub.attach_blocking(&mut ws);
    }
    members.push(Member {
        ws,
        wire,
        client,
        sub: Some(sub),
        expected: Vec::new(),
    });
}

/// Member `m` writes up to `n` of its deliveries.
fn drain(m: &mut Member, n: u64) {
    let Some(sub) = &mut m.sub else { return };
    for _ in 0..n {
        match sub.try_recv() {
            Some(Delivery::Message(p)) => {
                m.ws.write_prepared(&p).unwrap();
                m.expected.push(p.message().clone());
            }
            _ => break,
        }
    }
    m.ws.flush().unwrap();
}

fn scenario(seed: u64) -> (usize, usize) {
    let mut rng = Rng::new(seed);
    let room = Broadcast::new(
        BroadcastConfig::default()
            .with_queue_capacity(2 + rng.below(8) as usize)
            .with_max_cohorts(1 + rng.below(4) as usize),
    );
    let mut members = Vec::new();
    for _ in 0..1 + rng.below(5) {
        join(&room, &mut rng, &mut members);
    }
    let mut sent: Vec<Arc<PreparedMessage>> = Vec::new();
    for step in 0..250 {
        let i = rng.below(members.len() as u64) as usize;
        match rng.below(100) {
            0..=39 => {
                let p = Arc::new(PreparedMessage::new(message(&mut rng, step)).unwrap());
                room.send(p.clone());
                sent.push(p);
            }
            40..=69 => drain(&mut members[i], 1 + rng.below(6)),
            70..=77 => {
                let m = message(&mut rng, 100_000 + step);
                members[i].ws.send(m.clone()).unwrap();
                members[i].expected.push(m);
            }
            78..=83 => join(&room, &mut rng, &mut members),
            84..=86 => members[i].sub = None, // leaves; its client still checks
            87..=89 => {
                room.hibernate_if_idle(std::time::Duration::ZERO);
            }
            _ => {
                assert!(room.cohorts() <= 4 * 3, "at most max_cohorts per key");
            }
        }
    }
    for m in &mut members {
        drain(m, u64::MAX);
    }
    let mut checked = 0;
    for (k, m) in members.into_iter().enumerate() {
        let bytes = m.wire.0.borrow().clone();
        let mut client = WebSocket::from_parts(
            Replay(io::Cursor::new(bytes)),
            Role::Client,
            m.client,
            None,
            WebSocketConfig::default(),
            BytesMut::new(),
        );
        for (j, want) in m.expected.iter().enumerate() {
            let got = client
                .read()
                .unwrap_or_else(|e| panic!("seed {seed}, member {k}, message {j}: {e}"));
            assert_eq!(&got, want, "seed {seed}, member {k}, message {j}");
            checked += 1;
        }
    }
    let cohort: usize = sent.iter().map(|p| p.cohort_encodings()).sum();
    (checked, cohort)
}

#[test]
fn random_interleavings_stay_decodable() {
    let (mut checked, mut cohort) = (0, 0);
    for seed in 0..60 {
        let (c, e) = scenario(seed);
        checked += c;
        cohort += e;
    }
    // The scenarios did exercise cohorts, and delivered a lot.
    assert!(cohort > 1000, "{cohort} cohort encodings");
    assert!(checked > 10_000, "{checked} messages checked");
    eprintln!("{checked} messages checked, {cohort} cohort encodings");
}
