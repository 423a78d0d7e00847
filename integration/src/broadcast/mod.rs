//! Fan-out: one message to many connections, encoded once
//! ([`PreparedMessage`]), delivered through a bounded queue per recipient
//! so that a slow or stalled recipient never delays the others.
//!
//! - [`Broadcast`]: the group. [`Broadcast::send`] puts the message in
//!   every member's queue and returns at once: it never waits for a socket.
//! - [`Subscription`]: one member's queue, drained by that connection's own
//!   task ([`serve_member`] does it for you).
//! - [`Overflow`]: what happens when a member's queue is full: drop its
//!   oldest queued message, or close the slow connection (1008 or 1013).
//!
//! ## What is shared
//! On a server connection whose send stack keeps no state across messages
//! (no extension, or permessage-deflate with `server_no_context_takeover`,
//! [`ws_deflate::DeflateConfig::broadcast`]), a prepared message is encoded
//! once per distinct [`ws_ext_core::EncodingKey`] and the same bytes are
//! queued on every such connection.
//!
//! ## Cohorts (context takeover)
//! A server connection whose compressor keeps history (permessage-deflate
//! with context takeover: the default, or
//! [`ws_deflate::DeflateConfig::broadcast_cohorts`]) cannot share frames
//! with every other connection, but it can with those that were sent the
//! same messages: a **cohort**. The group keeps one compressor per cohort
//! (a fresh send stack like its members'), compresses each message once
//! per cohort at [`Broadcast::send`] time, in the group's order, and each
//! member writes its cohort's frame. Its peer's inflater then follows the
//! cohort's compressor exactly: context takeover's ratio at one
//! compression per cohort, and a member in a cohort holds no compressor of
//! its own.
//!
//! - Everyone attached before a send, and in no cohort, starts a new
//!   cohort at that send (per [`EncodingKey`](ws_ext_core::EncodingKey)):
//!   all the members that joined before a room's first message form one,
//!   late joiners form another. Only members that keep up (their queue at
//!   most half full) start one, and at least two of them unless their key
//!   has no cohort yet: a cohort compresses every message sent, while a
//!   member on its own compresses only what it delivers, so a member that
//!   falls behind, or a lone late joiner beside a cohort, encodes for
//!   itself until the next cohort of its key starts.
//! - A member leaves its cohort when its peer's stream stops being the
//!   cohort's: it missed a message ([`Overflow::DropOldest`]), or its
//!   connection wrote a data message of its own (a direct `send`). It
//!   resets its own compressor (what it compresses next refers to nothing
//!   its peer lacks) and encodes for itself until the next cohort starts,
//!   which it joins.
//! - At most [`BroadcastConfig::max_cohorts`] cohorts per key: beyond, the
//!   smallest are merged into the new one (their members start afresh).
//! - Members must be [attached](Subscription::attach) (their connection
//!   tells the group its settings); [`serve_member`] does it.
//!
//! What makes each frame valid for the peer that receives it is decided by
//! the connection alone (it writes a cohort frame only at the cohort's
//! start or right after the cohort's previous frame, with nothing of its
//! own in between), whatever the group believes; the group's view only
//! decides how many compressions it runs. Clients never share (every frame
//! is masked), nor do extensions without a key (deflate-frame, mux): they
//! encode every message themselves, which is always correct.
//!
//! ## Memory
//! Every send goes to every member, so all the members' queues together
//! refer to at most the last `queue_capacity` messages sent (each an
//! [`Arc`] to one shared [`PreparedMessage`], which keeps its payload and
//! one encoded frame per distinct key and per cohort). The group holds at
//! most `max_cohorts` compressors per key, and none while it is quiet if
//! something calls [`Broadcast::hibernate_if_idle`] (`wsx serve` does: a
//! quiet room of one member then costs ~17 KiB of server memory instead
//! of ~55). A connection's write queue holds
//! at most [`WebSocketConfig::write_buffer_size`](crate::WebSocketConfig::write_buffer_size)
//! plus one frame: [`serve_member`] takes no delivery past it (large
//! shared frames are queued by reference, not copied). So whatever the
//! recipients do, memory is bounded by `queue_capacity` × (the largest
//! message × (keys + cohorts + 1)) + cohorts × one compressor + members ×
//! (write buffer + a few pointers per queued message).
//!
//! ```no_run
//! # async fn demo(listener: tokio::net::TcpListener, cfg: wsx::ServerConfig) {
//! use wsx::broadcast::{serve_member, Broadcast, BroadcastConfig};
//! let room = Broadcast::new(BroadcastConfig::default());
//! loop {
//!     let Ok((tcp, _)) = listener.accept().await else { continue };
//!     let (room, cfg) = (room.clone(), cfg.clone());
//!     tokio::spawn(async move {
//!         let Ok(mut ws) = wsx::accept_with(tcp, &cfg).await else { return };
//!         let mut me = room.subscribe();
//!         // Every message received goes to everyone, the sender included.
//!         let _ = serve_member(&mut ws, &mut me, |m| {
//!             room.send_message(m);
//!         })
//!         .await;
//!     });
//! }
//! # }
//! ```

mod cohorts;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Notify;
use tracing::debug;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::Message;

use crate::error::Error;
pub use crate::proto::prepared::PreparedMessage;
use crate::stream::WebSocketStream;
use cohorts::{Cohorts, MemberCohort};

/// What a full member queue does with the next message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Overflow {
    /// Drop the member's oldest queued message to make room: a slow reader
    /// misses messages (counted, [`Subscription::dropped`]) but stays.
    DropOldest,
    /// Close the slow connection with this code (1008 Policy Violation or
    /// 1013 Try Again Later; see [`Overflow::close`]): its queue is
    /// emptied and it leaves the group at once. [`serve_member`] sends the
    /// close frame, then drops the connection if the close cannot be
    /// written within the close timeout (a peer that does not read).
    Close(CloseCode),
}

impl Overflow {
    /// [`Overflow::Close`] with 1008 or 1013; any other code is refused
    /// (these are the two that tell a peer it was too slow).
    pub fn close(code: u16) -> Option<Self> {
        matches!(code, 1008 | 1013).then(|| Overflow::Close(CloseCode::from(code)))
    }
}

/// The settings of a [`Broadcast`] group.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BroadcastConfig {
    /// Messages a member may have waiting (at least 1). Default 64.
    pub queue_capacity: usize,
    /// What a full queue does. Default [`Overflow::DropOldest`].
    pub overflow: Overflow,
    /// [`serve_member`] gives a connection up ([`MemberEnd::Stalled`]) when
    /// its write queue is full and the peer has taken no byte of it for
    /// this long: a peer that stopped reading for good does not stay a
    /// member forever under [`Overflow::DropOldest`] (a peer that keeps
    /// its TCP window at zero is never failed by the kernel). A slow peer
    /// that still reads is not affected, however long a message takes, as
    /// long as the server sees progress within each period: the kernel
    /// wakes a writer only once a good part of the socket's send buffer is
    /// free, so a peer must take about that much (hundreds of KiB on
    /// loopback's autotuned buffers, less on real links) per period.
    /// `None`: never (the connection's own `idle_timeout` still applies).
    /// Default 30 s (gorilla/websocket's chat example gives a whole write
    /// 10 s).
    pub stall_timeout: Option<Duration>,
    /// Serve members whose compressor keeps history (context takeover)
    /// from cohorts: one compressor per group of members that were sent
    /// the same messages, run once per message by [`Broadcast::send`]
    /// (see the module docs). Members must be
    /// [attached](Subscription::attach) ([`serve_member`] does it).
    /// Default `true`; `false`: each such member compresses every message
    /// itself.
    pub cohorts: bool,
    /// The most cohorts per key (at least 1). Members in none (new
    /// members, members that missed a message or sent one of their own)
    /// start a new cohort at the next send; beyond this many, the smallest
    /// cohorts are merged into the new one, whose members start afresh
    /// (the next message loses their history's ratio). Default 4.
    pub max_cohorts: usize,
}

impl Default for BroadcastConfig {
    fn default() -> Self {
        BroadcastConfig {
            queue_capacity: 64,
            overflow: Overflow::DropOldest,
            stall_timeout: Some(Duration::from_secs(30)),
            cohorts: true,
            max_cohorts: 4,
        }
    }
}

impl BroadcastConfig {
    /// Sets [`queue_capacity`](Self::queue_capacity) (0 counts as 1).
    #[must_use]
    pub fn with_queue_capacity(mut self, queue_capacity: usize) -> Self {
        self.queue_capacity = queue_capacity.max(1);
        self
    }

    /// Sets [`overflow`](Self::overflow).
    #[must_use]
    pub fn with_overflow(mut self, overflow: Overflow) -> Self {
        self.overflow = overflow;
        self
    }

    /// Sets [`stall_timeout`](Self::stall_timeout).
    #[must_use]
    pub fn with_stall_timeout(mut self, stall_timeout: Option<Duration>) -> Self {
        self.stall_timeout = stall_timeout;
        self
    }

    /// Sets [`cohorts`](Self::cohorts).
    #[must_use]
    pub fn with_cohorts(mut self, cohorts: bool) -> Self {
        self.cohorts = cohorts;
        self
    }

    /// Sets [`max_cohorts`](Self::max_cohorts) (0 counts as 1).
    #[must_use]
    pub fn with_max_cohorts(mut self, max_cohorts: usize) -> Self {
        self.max_cohorts = max_cohorts.max(1);
        self
    }
}

/// What one [`Broadcast::send`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendReport {
    /// Members the message was queued for.
    pub queued: usize,
    /// Members whose oldest queued message was dropped to make room
    /// ([`Overflow::DropOldest`]; the new message was queued).
    pub dropped_oldest: usize,
    /// Members closed because their queue was full ([`Overflow::Close`]).
    pub closed: usize,
}

#[derive(Debug, Default)]
struct QueueState {
    items: VecDeque<Arc<PreparedMessage>>,
    /// Closed for overflow, with this code.
    closed: Option<CloseCode>,
    dropped: u64,
}

#[derive(Debug)]
struct Queue {
    id: u64,
    state: Mutex<QueueState>,
    notify: Notify,
    cohort: MemberCohort,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain data behind the locks; a panic elsewhere leaves it consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug)]
struct Group {
    config: BroadcastConfig,
    members: Mutex<Members>,
    next_id: AtomicU64,
}

/// The members' queues and the cohorts serving them.
#[derive(Debug, Default)]
struct Members {
    queues: Vec<Arc<Queue>>,
    cohorts: Cohorts,
    /// When the last message was sent.
    last_send: Option<Instant>,
}

impl Drop for Group {
    /// The last handle is gone: wake every member so it sees
    /// [`Delivery::Ended`] once its queue is empty.
    fn drop(&mut self) {
        for q in lock(&self.members).queues.iter() {
            q.notify.notify_one();
        }
    }
}

/// A group of recipients. Cheap to clone (an [`Arc`]); every clone is the
/// same group.
#[derive(Debug, Clone)]
pub struct Broadcast {
    group: Arc<Group>,
}

impl Broadcast {
    /// An empty group.
    pub fn new(config: BroadcastConfig) -> Self {
        let config = config
            .clone()
            .with_queue_capacity(config.queue_capacity)
            .with_max_cohorts(config.max_cohorts);
        Broadcast {
            group: Arc::new(Group {
                config,
                members: Mutex::new(Members::default()),
                next_id: AtomicU64::new(0),
            }),
        }
    }

    /// The settings.
    pub fn config(&self) -> &BroadcastConfig {
        &self.group.config
    }

    /// Join: a new member, receiving every message sent from now on. It
    /// leaves when dropped (or when closed for overflow).
    pub fn subscribe(&self) -> Subscription {
        let queue = Arc::new(Queue {
            id: self.group.next_id.fetch_add(1, Ordering::Relaxed),
            state: Mutex::new(QueueState::default()),
            notify: Notify::new(),
            cohort: MemberCohort::default(),
        });
        lock(&self.group.members).queues.push(queue.clone());
        Subscription {
            queue,
            group: Arc::downgrade(&self.group),
            stall_timeout: self.group.config.stall_timeout,
        }
    }

    /// Members now.
    pub fn len(&self) -> usize {
        lock(&self.group.members).queues.len()
    }

    /// Cohorts now (see [`BroadcastConfig::cohorts`]): how many times a
    /// message sent now would be compressed for the members that keep
    /// context.
    pub fn cohorts(&self) -> usize {
        lock(&self.group.members).cohorts.len()
    }

    /// If nothing was sent for `after` (or ever): let the cohorts'
    /// compressors hibernate (each packs its window, a few KiB, and gives
    /// its compressor back to the pool; the next message restores it, and
    /// the members' peers see no difference). A quiet room then holds no
    /// compressor at all, as its quiet members' connections do not
    /// (`WebSocketConfig::hibernate_after`). Call it now and then, from a
    /// timer (`wsx serve --broadcast` does, every `--hibernate-after`);
    /// cheap when there is nothing to do. Returns how many cohorts were
    /// hibernated (0: not idle that long, or none).
    pub fn hibernate_if_idle(&self, after: Duration) -> usize {
        let mut members = lock(&self.group.members);
        if members.last_send.is_some_and(|t| t.elapsed() < after) {
            return 0;
        }
        members.cohorts.hibernate()
    }

    /// No member.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queue `msg` for every member, now, without waiting for any socket.
    /// A full queue applies the group's [`Overflow`] policy to that member
    /// only. Sends from several tasks are serialised (one short lock per
    /// send), so every member sees the group's messages in the same order.
    pub fn send(&self, msg: impl Into<Arc<PreparedMessage>>) -> SendReport {
        let msg = msg.into();
        let cap = self.group.config.queue_capacity;
        let mut report = SendReport::default();
        let mut members = lock(&self.group.members);
        members.last_send = Some(Instant::now());
        let Members {
            queues, cohorts, ..
        } = &mut *members;
        if self.group.config.cohorts {
            cohorts.prepare(queues, cap, self.group.config.max_cohorts, &msg);
        }
        queues.retain(|q| {
            let mut st = lock(&q.state);
            if st.closed.is_some() {
                return false;
            }
            if st.items.len() >= cap {
                match self.group.config.overflow {
                    Overflow::DropOldest => {
                        st.items.pop_front();
                        // It misses a message: out of its cohort.
                        q.cohort.seat.set(0);
                        st.dropped += 1;
                        report.dropped_oldest += 1;
                    }
                    Overflow::Close(code) => {
                        debug!(member = q.id, %code, "queue full: closing the slow member");
                        st.items.clear();
                        st.items.shrink_to_fit();
                        st.closed = Some(code);
                        report.closed += 1;
                        drop(st);
                        q.notify.notify_one();
                        return false;
                    }
                }
            }
            st.items.push_back(msg.clone());
            report.queued += 1;
            drop(st);
            q.notify.notify_one();
            true
        });
        report
    }

    /// Prepare `msg` (text or binary; other kinds are ignored and give an
    /// empty report) and [`Broadcast::send`] it.
    pub fn send_message(&self, msg: Message) -> SendReport {
        match PreparedMessage::new(msg) {
            Ok(p) => self.send(p),
            Err(e) => {
                debug!(error = %e, "not broadcast");
                SendReport::default()
            }
        }
    }
}

/// What a member's queue yields ([`Subscription::recv`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Delivery {
    /// The next message, in order.
    Message(Arc<PreparedMessage>),
    /// The queue overflowed under [`Overflow::Close`]: close the
    /// connection with this code. Nothing more will come.
    Close(CloseCode),
    /// The group is gone (every [`Broadcast`] handle dropped) and the
    /// queue is empty.
    Ended,
}

/// One member of a [`Broadcast`]: its queue. Drained by the connection's
/// own task; leaves the group when dropped.
#[derive(Debug)]
pub struct Subscription {
    queue: Arc<Queue>,
    group: Weak<Group>,
    stall_timeout: Option<Duration>,
}

impl Subscription {
    /// The next delivery, waiting for one.
    pub async fn recv(&mut self) -> Delivery {
        loop {
            if let Some(d) = self.try_recv() {
                return d;
            }
            self.queue.notify.notified().await;
        }
    }

    /// The next delivery if one is ready.
    pub fn try_recv(&mut self) -> Option<Delivery> {
        let mut st = lock(&self.queue.state);
        if let Some(m) = st.items.pop_front() {
            return Some(Delivery::Message(m));
        }
        if let Some(code) = st.closed {
            return Some(Delivery::Close(code));
        }
        if self.group.strong_count() == 0 {
            return Some(Delivery::Ended);
        }
        None
    }

    /// The next delivery (`take`), or only the news that the queue was
    /// closed for overflow (not `take`: the writer cannot take more now).
    async fn wait(&mut self, take: bool) -> Delivery {
        loop {
            if take {
                if let Some(d) = self.try_recv() {
                    return d;
                }
            } else if let Some(code) = self.closed() {
                return Delivery::Close(code);
            }
            self.queue.notify.notified().await;
        }
    }

    /// Messages waiting in this member's queue.
    pub fn queued(&self) -> usize {
        lock(&self.queue.state).items.len()
    }

    /// Messages dropped from this member's queue under
    /// [`Overflow::DropOldest`].
    pub fn dropped(&self) -> u64 {
        lock(&self.queue.state).dropped
    }

    /// Closed for overflow, with this code.
    pub fn closed(&self) -> Option<CloseCode> {
        lock(&self.queue.state).closed
    }

    /// Tell the group which connection drains this subscription, so that
    /// it can serve it from a cohort if its compressor keeps history
    /// ([`BroadcastConfig::cohorts`]). `true`: it can (a server connection
    /// with permessage-deflate and context takeover). Call it before
    /// writing what [`Subscription::recv`] gives to `ws`
    /// ([`serve_member`] does); without it the group starts no cohort for
    /// the connection, which then mostly compresses for itself. A
    /// subscription serves one connection: attaching another one with
    /// other settings later is refused (`false`). Attaching one
    /// connection to several groups gives cohorts to the last one only.
    pub fn attach<S>(&self, ws: &mut WebSocketStream<S>) -> bool {
        ws.cohort_ticket(self.queue.cohort.seat.clone())
            .is_some_and(|(key, template)| self.queue.cohort.attach(key, template))
    }

    /// [`Subscription::attach`] for a [`blocking`](crate::blocking)
    /// connection.
    pub fn attach_blocking<S>(&self, ws: &mut crate::blocking::WebSocket<S>) -> bool {
        ws.cohort_ticket(self.queue.cohort.seat.clone())
            .is_some_and(|(key, template)| self.queue.cohort.attach(key, template))
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(g) = self.group.upgrade() {
            lock(&g.members).queues.retain(|q| q.id != self.queue.id);
        }
    }
}

/// How [`serve_member`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MemberEnd {
    /// The connection closed (the closing handshake, or the peer went).
    Closed,
    /// The member's queue overflowed under [`Overflow::Close`]: a close
    /// frame with this code was sent (`sent`), or could not be written
    /// within the close timeout and the connection was given up.
    Overflowed {
        /// The close code.
        code: CloseCode,
        /// Whether the close frame was written out.
        sent: bool,
    },
    /// The group is gone.
    GroupEnded,
    /// The peer took no byte of a full write queue for
    /// [`BroadcastConfig::stall_timeout`]: the connection was given up
    /// (no close frame: it could not be written).
    Stalled,
}

/// Run one member's connection: read messages and pass each text or
/// binary one to `on_message` (to [`Broadcast::send`] it, say), and write
/// what the member's queue delivers as it comes, until the connection
/// closes. The write queue is not filled past
/// [`WebSocketConfig::write_buffer_size`](crate::WebSocketConfig::write_buffer_size):
/// while the peer does not read, deliveries wait in the member's bounded
/// queue, where the group's [`Overflow`] policy applies, and the
/// connection reads nothing either until its write queue drains (the
/// stream's own backpressure). A peer that stops reading for good is
/// given up after [`BroadcastConfig::stall_timeout`] without progress
/// ([`MemberEnd::Stalled`]); under [`Overflow::Close`] it is closed as
/// soon as its queue overflows.
///
/// A protocol error or an I/O error ends it with the error.
pub async fn serve_member<S, F>(
    ws: &mut WebSocketStream<S>,
    member: &mut Subscription,
    on_message: F,
) -> Result<MemberEnd, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnMut(Message),
{
    serve_member_with(ws, member, on_message, |_, _| {}).await
}

/// [`serve_member`], also calling `on_delivery` with each message queued
/// on the connection and whether its shared encoding was used (`false`:
/// this connection encoded it itself).
pub async fn serve_member_with<S, F, D>(
    ws: &mut WebSocketStream<S>,
    member: &mut Subscription,
    mut on_message: F,
    mut on_delivery: D,
) -> Result<MemberEnd, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnMut(Message),
    D: FnMut(&PreparedMessage, bool),
{
    member.attach(ws);
    let limit = ws_write_limit(ws);
    // How much was still to write when the stall clock last (re)started.
    let mut stalled_at: Option<usize> = None;
    loop {
        if ws.buffered_amount() >= limit {
            if stalled_at.is_none() {
                stalled_at = Some(ws.buffered_amount());
            }
            // The write queue is full: write it out before taking more
            // (the stream reads nothing meanwhile either: its own
            // backpressure), but still hear that the member overflowed.
            let stall_timeout = member.stall_timeout;
            let stall = async {
                match stall_timeout {
                    Some(t) => tokio::time::sleep(t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = ws.flush() => r?,
                d = member.wait(false) => match d {
                    Delivery::Close(code) => return Ok(close_slow(ws, code).await),
                    Delivery::Ended => return Ok(MemberEnd::GroupEnded),
                    Delivery::Message(_) => {} // not taken without room
                },
                () = stall => {
                    let left = ws.buffered_amount();
                    if stalled_at.is_some_and(|before| left >= before) {
                        // No byte taken in a whole stall period: give up.
                        debug!(left, "broadcast member stalled: given up");
                        return Ok(MemberEnd::Stalled);
                    }
                    // Progress: watch the next period.
                    stalled_at = Some(left);
                }
            }
            continue;
        }
        stalled_at = None;
        // Not biased: a busy room must not starve reading (the peer's
        // messages, pings, its close).
        tokio::select! {
            d = member.wait(true) => match d {
                Delivery::Message(m) => match ws.queue_prepared(&m) {
                    Ok(shared) => {
                        on_delivery(&m, shared);
                        // Start writing now; the read side keeps writing
                        // out the rest as the socket allows.
                        let _ = futures_util::FutureExt::now_or_never(ws.flush());
                    }
                    Err(Error::SendAfterClose) => {}
                    Err(e) => return Err(e),
                },
                Delivery::Close(code) => return Ok(close_slow(ws, code).await),
                Delivery::Ended => return Ok(MemberEnd::GroupEnded),
            },
            m = ws.next() => match m {
                None => return Ok(MemberEnd::Closed),
                Some(Err(e)) => return Err(e),
                Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => on_message(m),
                Some(Ok(_)) => {}
            },
        }
    }
}

fn ws_write_limit<S>(ws: &WebSocketStream<S>) -> usize {
    ws.config().write_buffer_size.max(1)
}

/// Close a member that overflowed: the close frame within the close
/// timeout, else give the connection up.
async fn close_slow<S>(ws: &mut WebSocketStream<S>, code: CloseCode) -> MemberEnd
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let timeout: Duration = ws.config().close_timeout;
    let frame = CloseFrame {
        code,
        reason: "too slow: broadcast queue full".into(),
    };
    let sent = async {
        ws.send(Message::Close(Some(frame))).await?;
        // The peer's close reply, or its EOF.
        while let Some(m) = ws.next().await {
            m?;
        }
        Ok::<_, Error>(())
    };
    let sent = matches!(tokio::time::timeout(timeout, sent).await, Ok(Ok(())));
    debug!(%code, sent, "slow member closed");
    MemberEnd::Overflowed { code, sent }
}
