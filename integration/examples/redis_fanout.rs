//! Rooms shared by several wsx processes through Redis pub/sub: scale a
//! broadcasting server out with stateless processes behind any load
//! balancer and a broker for the fan-out, no clustering of our own.
//!
//! Each process keeps one [`wsx::Broadcast`] per path (a room) for the
//! clients connected to it. A text or binary message received from a local
//! client is PUBLISHed to the Redis channel `<prefix><path>`; every
//! process (the sender's included) has one PSUBSCRIBE `<prefix>*`
//! connection and hands what arrives to its local room with
//! [`Broadcast::send`](wsx::Broadcast::send). So a message sent to one
//! process reaches the clients of every process, and every client of a room
//! sees the room's messages in one order (Redis orders a channel).
//!
//! Compression: clients get permessage-deflate with
//! [`DeflateConfig::broadcast`] (`server_no_context_takeover`, level 6), so
//! the server's direction keeps no state across messages and
//! [`PreparedMessage`] compresses each message **once per process** (once
//! per distinct encoding key, in practice one) for all its local
//! recipients; the other recipients get the same bytes.
//!
//! On the wire to Redis a message is one tag byte (`t` text, `b` binary)
//! and its payload, unchanged. What comes back from Redis is checked
//! like peer input: an unknown tag or text that is not UTF-8 is logged and
//! dropped, never delivered or panicked on.
//!
//! ## Run two processes
//!
//! ```text
//! redis-server --port 6379 --save '' --appendonly no &
//! cargo run -p wsx --example redis_fanout -- --listen 127.0.0.1:9001 &
//! cargo run -p wsx --example redis_fanout -- --listen 127.0.0.1:9002 &
//! wsx client ws://127.0.0.1:9001/chat/lobby   # type here...
//! wsx client ws://127.0.0.1:9002/chat/lobby   # ...it shows up here
//! ```
//!
//! Options: `--listen ADDR` (default 127.0.0.1:9001; port 0 picks one),
//! `--redis URL` (default `redis://127.0.0.1:6379/`), `--prefix P` (channel
//! prefix, default `wsx:room:`), `--queue N` (messages a slow client may
//! have waiting before its oldest is dropped, default 256), `--retries N`
//! (how many times in a row a failed Redis connection is retried before
//! the process gives up, default 10: about 30 s). Logs go to stderr
//! (`RUST_LOG`, default `info`); stdout gets `listening on ws://ADDR` once
//! the subscription is in place, and a `stats:` line when the process
//! stops (SIGTERM, Ctrl-C). `scripts/conformance.sh --only redis-fanout`
//! runs two processes on a redis-server and checks them.
//!
//! ## Failures and what is guaranteed
//!
//! Redis pub/sub delivers at most once: a process that is not subscribed
//! when a message is published (starting, or reconnecting after the broker
//! went away) never sees it. The subscriber pings Redis every 10 s and
//! reconnects with a bounded exponential backoff; so does the publisher (a
//! RESP3 connection, Redis 6 or later, which tells it at once when the
//! connection closes), which counts a batch in flight when its connection
//! fails as lost (never sent twice). After `--retries` failed attempts in a
//! row the process exits with an error, for its supervisor to restart it
//! (and the load balancer to stop sending it clients). Messages waiting to
//! be published are bounded (16 MiB); when that is full, clients of this
//! process are not read until it drains. Redis itself closes a subscriber
//! that falls 32 MiB behind (`client-output-buffer-limit pubsub`), so
//! messages are capped at 4 MiB.
//!
//! Every process receives every room's messages (one pattern
//! subscription); one with no member in a room drops them unprepared. With
//! many rooms spread thinly over many processes, SUBSCRIBE per room on its
//! first local member (and UNSUBSCRIBE on its last) instead.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::time::{sleep, timeout, timeout_at, Instant};
use tracing::{debug, info, warn};
use ws_deflate::{DeflateConfig, PerMessageDeflateServer};
use ws_ext_core::ServerNegotiator;
use wsx::broadcast::{BroadcastConfig, Delivery, PreparedMessage, Subscription};
use wsx::{
    Broadcast, CloseFrame, HandshakeError, Message, ServerConfig, Utf8Bytes, WebSocketConfig,
    WebSocketStream,
};

const USAGE: &str =
    "redis_fanout [--listen ADDR] [--redis URL] [--prefix PREFIX] [--queue N] [--retries N]";

/// Tag byte of a text message on the Redis channel.
const TAG_TEXT: u8 = b't';
/// Tag byte of a binary message on the Redis channel.
const TAG_BINARY: u8 = b'b';
/// Largest message a client may send (Redis drops a subscriber 32 MiB behind).
const MAX_MESSAGE: usize = 4 << 20;
/// Bytes waiting to be published, all clients of the process together.
const PUBLISH_BUDGET: usize = 16 << 20;
/// Messages per PUBLISH pipeline.
const BATCH: usize = 64;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
const PING_EVERY: Duration = Duration::from_secs(10);
const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Why the process stops.
#[derive(Debug, thiserror::Error)]
enum FanoutError {
    #[error("{0}\nusage: {USAGE}")]
    Usage(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("bad Redis URL {url}: {source}")]
    RedisUrl {
        url: String,
        source: redis::RedisError,
    },
    #[error("Redis {role}: gave up after {attempts} failed attempts in a row; last: {last}")]
    GaveUp {
        role: &'static str,
        attempts: u32,
        last: RedisFailure,
    },
    #[error("the Redis {0} task ended")]
    TaskEnded(&'static str),
    #[error("the Redis {role} task failed: {source}")]
    TaskFailed {
        role: &'static str,
        source: tokio::task::JoinError,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// One failed exchange with Redis (the process reconnects).
#[derive(Debug, thiserror::Error)]
enum RedisFailure {
    #[error("{0}")]
    Redis(#[from] redis::RedisError),
    #[error("no answer to {0} within the timeout")]
    Timeout(&'static str),
    #[error("the subscription connection closed")]
    StreamEnded,
}

/// A message from Redis that is not one of ours.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
enum DecodeError {
    #[error("empty payload (no tag byte)")]
    Empty,
    #[error("unknown tag byte {0:#04x}")]
    UnknownTag(u8),
    #[error("text payload is not UTF-8")]
    NotUtf8,
}

/// The Redis payload of a text or binary message: a tag byte, then the
/// payload unchanged. `None` for other kinds.
fn encode(msg: &Message) -> Option<Vec<u8>> {
    let (tag, data): (u8, &[u8]) = match msg {
        Message::Text(t) => (TAG_TEXT, t.as_bytes()),
        Message::Binary(b) => (TAG_BINARY, b),
        _ => return None,
    };
    let mut out = Vec::with_capacity(1 + data.len());
    out.push(tag);
    out.extend_from_slice(data);
    Some(out)
}

/// The message of a Redis payload ([`encode`]'s inverse).
fn decode(payload: &[u8]) -> Result<Message, DecodeError> {
    let (&tag, data) = payload.split_first().ok_or(DecodeError::Empty)?;
    let data = Bytes::copy_from_slice(data);
    match tag {
        TAG_TEXT => Utf8Bytes::try_from(data)
            .map(Message::Text)
            .map_err(|_| DecodeError::NotUtf8),
        TAG_BINARY => Ok(Message::Binary(data)),
        t => Err(DecodeError::UnknownTag(t)),
    }
}

struct Opts {
    listen: String,
    redis: String,
    prefix: String,
    queue: usize,
    retries: u32,
}

fn parse_args() -> Result<Opts, FanoutError> {
    let mut o = Opts {
        listen: "127.0.0.1:9001".into(),
        redis: "redis://127.0.0.1:6379/".into(),
        prefix: "wsx:room:".into(),
        queue: 256,
        retries: 10,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || {
            args.next()
                .ok_or_else(|| FanoutError::Usage(format!("{a} needs a value")))
        };
        let number = |v: String| {
            v.parse::<u32>()
                .map_err(|e| FanoutError::Usage(format!("{a} {v}: {e}")))
        };
        match a.as_str() {
            "--listen" => o.listen = val()?,
            "--redis" => o.redis = val()?,
            "--prefix" => o.prefix = val()?,
            "--queue" => o.queue = number(val()?)? as usize,
            "--retries" => o.retries = number(val()?)?,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ => return Err(FanoutError::Usage(format!("unknown argument {a}"))),
        }
    }
    Ok(o)
}

/// What one process did, printed as its `stats:` line when it stops.
#[derive(Debug, Default)]
struct Stats {
    /// Messages from local clients PUBLISHed.
    published: AtomicU64,
    /// Messages from local clients lost with a failed Redis connection.
    publish_lost: AtomicU64,
    /// Messages from Redis handed to a local room (with a member).
    received: AtomicU64,
    /// Messages from Redis that were not ours (bad tag, bad UTF-8).
    rejected: AtomicU64,
    /// Messages written to local connections.
    delivered: AtomicU64,
    /// Of those, written with the frame shared by the process (encoded once).
    shared: AtomicU64,
    /// The most encodings any one message needed in this process.
    max_encodings: AtomicU64,
    /// Messages dropped from slow clients' queues.
    dropped: AtomicU64,
}

impl Stats {
    fn line(&self) -> String {
        let g = |a: &AtomicU64| a.load(Relaxed);
        format!(
            "stats: published={} publish_lost={} received={} rejected={} delivered={} shared={} max_encodings={} dropped={}",
            g(&self.published),
            g(&self.publish_lost),
            g(&self.received),
            g(&self.rejected),
            g(&self.delivered),
            g(&self.shared),
            g(&self.max_encodings),
            g(&self.dropped),
        )
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// This process's rooms, by path.
struct Rooms {
    config: BroadcastConfig,
    rooms: Mutex<HashMap<String, Broadcast>>,
}

impl Rooms {
    /// Join the room of `path` (created on first use).
    fn join(&self, path: &str) -> Subscription {
        let mut rooms = lock(&self.rooms);
        // Under the map lock, so `leave` cannot remove a room being joined.
        rooms
            .entry(path.to_owned())
            .or_insert_with(|| Broadcast::new(self.config.clone()))
            .subscribe()
    }

    /// A member of `path` left: forget the room once empty.
    fn leave(&self, path: &str) {
        let mut rooms = lock(&self.rooms);
        if rooms.get(path).is_some_and(|r| r.is_empty()) {
            rooms.remove(path);
        }
    }

    /// The room of `path`, if it has members here.
    fn get(&self, path: &str) -> Option<Broadcast> {
        lock(&self.rooms).get(path).cloned()
    }
}

/// One message waiting to be published, holding its share of the budget.
struct Outgoing {
    channel: Arc<str>,
    payload: Vec<u8>,
    _budget: OwnedSemaphorePermit,
}

/// The local clients' way to Redis: a bounded queue to the publisher task.
#[derive(Clone)]
struct Publisher {
    tx: mpsc::Sender<Outgoing>,
    budget: Arc<Semaphore>,
}

/// The publisher task is gone (the process is stopping).
#[derive(Debug, thiserror::Error)]
#[error("the publisher task is gone")]
struct PublisherGone;

impl Publisher {
    /// Queue `msg` for `channel`, waiting while the budget is spent.
    async fn publish(&self, channel: &Arc<str>, msg: &Message) -> Result<(), PublisherGone> {
        let Some(payload) = encode(msg) else {
            return Ok(());
        };
        // A message larger than the whole budget waits for all of it.
        let permits = u32::try_from(payload.len().min(PUBLISH_BUDGET)).unwrap_or(u32::MAX);
        let permit = self
            .budget
            .clone()
            .acquire_many_owned(permits)
            .await
            .map_err(|_| PublisherGone)?;
        self.tx
            .send(Outgoing {
                channel: channel.clone(),
                payload,
                _budget: permit,
            })
            .await
            .map_err(|_| PublisherGone)
    }
}

/// Everything the connections of one process share.
struct Node {
    rooms: Rooms,
    publisher: Publisher,
    prefix: String,
    stats: Arc<Stats>,
}

/// Backoff before retry `attempt` (1, 2, ...): 100 ms doubling, at most 5 s.
fn backoff(attempt: u32) -> Duration {
    BACKOFF_FIRST
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(BACKOFF_MAX)
}

/// Count a failed attempt: wait before the next, or give up after `retries`.
async fn retry_or_give_up(
    role: &'static str,
    attempts: &mut u32,
    retries: u32,
    failure: RedisFailure,
) -> Result<(), FanoutError> {
    *attempts += 1;
    if *attempts > retries {
        return Err(FanoutError::GaveUp {
            role,
            attempts: *attempts,
            last: failure,
        });
    }
    let wait = backoff(*attempts);
    warn!(role, attempt = *attempts, retries, error = %failure, ?wait, "Redis unavailable: retrying");
    sleep(wait).await;
    Ok(())
}

/// The publisher's connection settings; `closed` is set as soon as the
/// connection closes (the client library's disconnection notice, sent on
/// RESP3 connections), so that the next batch goes to a new connection
/// instead of being lost on the dead one.
fn publisher_config(closed: Arc<AtomicBool>) -> redis::AsyncConnectionConfig {
    redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_push_sender(move |info: redis::PushInfo| {
            if info.kind == redis::PushKind::Disconnection {
                closed.store(true, Relaxed);
            }
            Ok::<(), std::convert::Infallible>(())
        })
}

/// `client` speaking RESP3 (Redis 6 or later), for the publisher's
/// disconnection notice.
fn resp3(client: &redis::Client) -> redis::RedisResult<redis::Client> {
    let info = client.get_connection_info().clone();
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(redis::ProtocolVersion::RESP3);
    redis::Client::open(info.set_redis_settings(settings))
}

/// The publisher task: PUBLISH what local clients sent, in order, in
/// pipelined batches over one connection (a [`resp3`] client). Ends when
/// every [`Publisher`] is dropped, or with [`FanoutError::GaveUp`].
async fn run_publisher(
    client: redis::Client,
    mut rx: mpsc::Receiver<Outgoing>,
    stats: Arc<Stats>,
    retries: u32,
) -> Result<(), FanoutError> {
    // The connection, and whether it has closed since.
    let mut conn: Option<(redis::aio::MultiplexedConnection, Arc<AtomicBool>)> = None;
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        if rx.recv_many(&mut batch, BATCH).await == 0 {
            return Ok(());
        }
        if conn
            .as_ref()
            .is_some_and(|(_, closed)| closed.load(Relaxed))
        {
            info!("publisher's Redis connection closed: reconnecting");
            conn = None;
        }
        let mut attempts = 0;
        let c = loop {
            if let Some((c, _)) = conn.as_mut() {
                break c;
            }
            let closed = Arc::new(AtomicBool::new(false));
            match client
                .get_multiplexed_async_connection_with_config(&publisher_config(closed.clone()))
                .await
            {
                Ok(c) => {
                    info!("publisher connected to Redis");
                    conn = Some((c, closed));
                }
                Err(e) => retry_or_give_up("publisher", &mut attempts, retries, e.into()).await?,
            }
        };
        let mut pipe = redis::pipe();
        for o in &batch {
            pipe.publish(&*o.channel, o.payload.as_slice()).ignore();
        }
        let n = batch.len() as u64;
        match pipe.exec_async(c).await {
            Ok(()) => {
                stats.published.fetch_add(n, Relaxed);
            }
            Err(e) => {
                // Maybe partly published: never resent (at most once).
                stats.publish_lost.fetch_add(n, Relaxed);
                warn!(lost = n, error = %e, "PUBLISH failed: messages lost, reconnecting");
                conn = None;
            }
        }
        batch.clear(); // returns their budget
    }
}

/// Glob-escape `prefix` for PSUBSCRIBE.
fn pattern(prefix: &str) -> String {
    let mut p = String::with_capacity(prefix.len() + 2);
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('*');
    p
}

/// The subscriber task: PSUBSCRIBE `<prefix>*` and hand each message to
/// its local room; reconnect when the connection fails. `ready` fires once
/// the first subscription is in place.
async fn run_subscriber(
    client: redis::Client,
    node: Arc<Node>,
    retries: u32,
    ready: oneshot::Sender<()>,
) -> Result<(), FanoutError> {
    let pattern = pattern(&node.prefix);
    let mut ready = Some(ready);
    let mut attempts = 0;
    loop {
        let subscribed = async {
            let pubsub = timeout(CONNECT_TIMEOUT, client.get_async_pubsub())
                .await
                .map_err(|_| RedisFailure::Timeout("connect"))??;
            let (mut sink, stream) = pubsub.split();
            timeout(RESPONSE_TIMEOUT, sink.psubscribe(&pattern))
                .await
                .map_err(|_| RedisFailure::Timeout("PSUBSCRIBE"))??;
            Ok::<_, RedisFailure>((sink, stream))
        };
        let (sink, stream) = match subscribed.await {
            Ok(s) => s,
            Err(e) => {
                retry_or_give_up("subscriber", &mut attempts, retries, e).await?;
                continue;
            }
        };
        attempts = 0;
        info!(pattern, "subscribed to Redis");
        if let Some(r) = ready.take() {
            let _ = r.send(());
        }
        let failure = pump(sink, stream, &node).await;
        warn!(error = %failure, "Redis subscription lost (messages published meanwhile do not reach this process): reconnecting");
    }
}

/// Deliver what the subscription brings until it fails.
async fn pump(
    mut sink: redis::aio::PubSubSink,
    mut stream: redis::aio::PubSubStream,
    node: &Node,
) -> RedisFailure {
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.reset(); // the first tick after PING_EVERY, not now
    loop {
        tokio::select! {
            m = stream.next() => match m {
                Some(msg) => deliver(&msg, node),
                None => return RedisFailure::StreamEnded,
            },
            _ = ping.tick() => match timeout(RESPONSE_TIMEOUT, sink.ping::<redis::Value>()).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return e.into(),
                Err(_) => return RedisFailure::Timeout("PING"),
            },
        }
    }
}

/// One message from Redis to the local room of its channel.
fn deliver(msg: &redis::Msg, node: &Node) {
    let channel: Vec<u8> = match msg.get_channel() {
        Ok(c) => c,
        Err(e) => {
            debug!(error = %e, "a Redis message without a channel name: ignored");
            return;
        }
    };
    let Some(path) = channel
        .strip_prefix(node.prefix.as_bytes())
        .and_then(|p| std::str::from_utf8(p).ok())
    else {
        debug!(channel = %String::from_utf8_lossy(&channel), "not a room channel: ignored");
        return;
    };
    let Some(room) = node.rooms.get(path) else {
        return; // nobody here in this room
    };
    let message = match decode(msg.get_payload_bytes()) {
        Ok(m) => m,
        Err(e) => {
            node.stats.rejected.fetch_add(1, Relaxed);
            warn!(path, error = %e, "a Redis message that is not ours: dropped");
            return;
        }
    };
    // Prepared once here; each connection's encoding key is compressed
    // once, by the first member that sends it, and shared by the others.
    let prepared = match PreparedMessage::new(message) {
        Ok(p) => p,
        Err(e) => {
            debug!(path, error = %e, "not broadcast");
            return;
        }
    };
    let report = room.send(prepared);
    node.stats.received.fetch_add(1, Relaxed);
    node.stats
        .dropped
        .fetch_add(report.dropped_oldest as u64, Relaxed);
    if report.dropped_oldest > 0 || report.closed > 0 {
        debug!(path, ?report, "slow members");
    }
}

/// The server's configuration: permessage-deflate without server context
/// takeover, so that a message is compressed once for every recipient.
fn server_config() -> Result<ServerConfig, FanoutError> {
    let deflate = PerMessageDeflateServer::try_new(DeflateConfig::broadcast())
        .map_err(|e| FanoutError::Config(format!("permessage-deflate: {e}")))?;
    Ok(ServerConfig::default()
        .with_extensions(ServerNegotiator::new().with(deflate))
        .with_websocket(
            WebSocketConfig::default()
                .with_max_message_size(MAX_MESSAGE)
                .with_max_frame_size(MAX_MESSAGE)
                .with_idle_timeout(Some(Duration::from_secs(60))),
        ))
}

/// One client: the handshake, then member of its path's room until it
/// closes.
async fn handle(mut tcp: TcpStream, cfg: &ServerConfig, node: &Node) -> Result<(), wsx::Error> {
    let _ = tcp.set_nodelay(true);
    let deadline = Instant::now() + cfg.handshake_timeout;
    let read = timeout_at(deadline, wsx::read_request(&mut tcp, cfg.max_header_bytes)).await;
    let (req, leftover) = match read {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return Err(wsx::reject(tcp, e).await),
        Err(_) => return Err(wsx::reject(tcp, HandshakeError::Timeout).await),
    };
    let path = req.uri().path().to_owned();
    let channel: Arc<str> = format!("{}{}", node.prefix, path).into();
    // Join before the 101 goes out: the client may count on the room's
    // messages from the moment its connection is open.
    let mut member = node.rooms.join(&path);
    let end = async {
        let mut ws = timeout_at(deadline, wsx::accept_request(tcp, &req, leftover, cfg))
            .await
            .map_err(|_| HandshakeError::Timeout)??;
        debug!(path, "joined");
        serve(&mut ws, &mut member, &channel, node).await
    }
    .await;
    drop(member);
    node.rooms.leave(&path);
    end
}

/// The member loop: what the client sends goes to Redis (the client is not
/// read while the publisher's budget is spent), what the room delivers goes
/// to the client.
async fn serve(
    ws: &mut WebSocketStream<TcpStream>,
    member: &mut Subscription,
    channel: &Arc<str>,
    node: &Node,
) -> Result<(), wsx::Error> {
    loop {
        tokio::select! {
            d = member.recv() => match d {
                Delivery::Message(m) => {
                    let shared = match ws.send_prepared(&m).await {
                        Ok(shared) => shared,
                        // Closing: its close reply is on the way.
                        Err(wsx::Error::SendAfterClose) => continue,
                        Err(e) => return Err(e),
                    };
                    let s = &node.stats;
                    s.delivered.fetch_add(1, Relaxed);
                    s.shared.fetch_add(u64::from(shared), Relaxed);
                    s.max_encodings.fetch_max(m.encodings() as u64, Relaxed);
                }
                Delivery::Close(code) => {
                    let frame = CloseFrame { code, reason: "too slow".into() };
                    let close = ws.send(Message::Close(Some(frame)));
                    let _ = timeout(Duration::from_secs(5), close).await;
                    return Ok(());
                }
                // Delivery::Ended: the room is gone.
                _ => return Ok(()),
            },
            m = ws.next() => match m {
                None => return Ok(()),
                Some(Err(e)) => return Err(e),
                Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => {
                    if node.publisher.publish(channel, &m).await.is_err() {
                        return Ok(()); // stopping
                    }
                }
                Some(Ok(_)) => {}
            },
        }
    }
}

/// Until SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                warn!(error = %e, "no SIGTERM handler");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn task_end(
    role: &'static str,
    r: Result<Result<(), FanoutError>, tokio::task::JoinError>,
) -> FanoutError {
    match r {
        Ok(Ok(())) => FanoutError::TaskEnded(role),
        Ok(Err(e)) => e,
        Err(source) => FanoutError::TaskFailed { role, source },
    }
}

async fn run(opts: Opts) -> Result<(), FanoutError> {
    let cfg = Arc::new(server_config()?);
    let listener = TcpListener::bind(&opts.listen)
        .await
        .map_err(|source| FanoutError::Listen {
            addr: opts.listen.clone(),
            source,
        })?;
    let bad_url = |source| FanoutError::RedisUrl {
        url: opts.redis.clone(),
        source,
    };
    let client = redis::Client::open(opts.redis.as_str()).map_err(bad_url)?;
    let publisher_client = resp3(&client).map_err(bad_url)?;
    let stats = Arc::new(Stats::default());
    let (tx, rx) = mpsc::channel(1024);
    let node = Arc::new(Node {
        rooms: Rooms {
            config: BroadcastConfig::default().with_queue_capacity(opts.queue),
            rooms: Mutex::new(HashMap::new()),
        },
        publisher: Publisher {
            tx,
            budget: Arc::new(Semaphore::new(PUBLISH_BUDGET)),
        },
        prefix: opts.prefix.clone(),
        stats: stats.clone(),
    });
    let mut publisher = tokio::spawn(run_publisher(
        publisher_client,
        rx,
        stats.clone(),
        opts.retries,
    ));
    let (ready_tx, ready_rx) = oneshot::channel();
    let mut subscriber = tokio::spawn(run_subscriber(client, node.clone(), opts.retries, ready_tx));
    // Take clients only once messages published for them reach us.
    tokio::select! {
        _ = ready_rx => {}
        r = &mut subscriber => return Err(task_end("subscriber", r)),
    }
    let addr: SocketAddr = listener.local_addr()?;
    println!("listening on ws://{addr}");
    info!(%addr, redis = %opts.redis, prefix = %opts.prefix, "serving rooms over Redis");
    let stop = shutdown_signal();
    tokio::pin!(stop);
    let result = loop {
        tokio::select! {
            a = listener.accept() => match a {
                Ok((tcp, peer)) => {
                    let (cfg, node) = (cfg.clone(), node.clone());
                    tokio::spawn(async move {
                        if let Err(e) = handle(tcp, &cfg, &node).await {
                            debug!(%peer, error = %e, "connection ended with an error");
                        }
                    });
                }
                Err(e) => {
                    // Out of descriptors, say: wait, do not spin.
                    warn!(error = %e, "accept failed");
                    sleep(Duration::from_millis(100)).await;
                }
            },
            r = &mut publisher => break Err(task_end("publisher", r)),
            r = &mut subscriber => break Err(task_end("subscriber", r)),
            _ = &mut stop => break Ok(()),
        }
    };
    println!("{}", stats.line());
    result
}

fn main() -> std::process::ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = parse_args().and_then(|opts| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(run(opts))
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("redis_fanout: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_unchanged() {
        for m in [
            Message::text(""),
            Message::text("κόσμε ☃"),
            Message::binary(Vec::new()),
            Message::binary(vec![0u8, 255, b't', b'b']),
        ] {
            let p = encode(&m).expect("data message");
            assert_eq!(decode(&p), Ok(m));
        }
        assert_eq!(encode(&Message::Ping(Bytes::new())), None);
    }

    #[test]
    fn foreign_payloads_are_refused() {
        assert_eq!(decode(b""), Err(DecodeError::Empty));
        assert_eq!(decode(b"x1"), Err(DecodeError::UnknownTag(b'x')));
        assert_eq!(decode(b"t\xff"), Err(DecodeError::NotUtf8));
    }

    #[test]
    fn prefix_globs_are_escaped() {
        assert_eq!(pattern("wsx:room:"), "wsx:room:*");
        assert_eq!(pattern("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\*");
    }

    #[test]
    fn backoff_is_bounded() {
        assert_eq!(backoff(1), BACKOFF_FIRST);
        assert_eq!(backoff(2), BACKOFF_FIRST * 2);
        assert_eq!(backoff(40), BACKOFF_MAX);
    }
}
