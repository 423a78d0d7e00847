//! The task that owns one physical connection and its [`MuxSession`].
//!
//! It is a hand-written future (not a `select!` loop) so that a physical
//! write that cannot proceed never stops it from reading, and no single
//! channel can stop it at all: every per-channel hand-over is non-blocking
//! and bounded (see [`super::channel_io`]).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, trace, warn};
use tungstenite::protocol::CloseFrame;
use tungstenite::Message;
use ws_ext_core::{ExtensionStack, Frame, OpCode, RsvBits};
use ws_mux::{ChannelId, ChannelRequest, Event, HandshakeRequest, Headers, MuxSession};

use super::channel_io::{lock, ChannelInfo, ChannelIo, DriverWake, End, Shared, WRITE_BUFFER};
use super::{IncomingChannel, MuxChannel, MuxError};
use crate::config::WebSocketConfig;
use crate::proto::frame::FrameHeader;
use crate::proto::mask::apply_mask;
use crate::proto::Role;
use crate::stream::WebSocketStream;

/// Largest payload handed to the session in one `send_frame` (the session
/// splits further by quota and `max_frame_payload`).
const CHUNK: usize = 16 << 10;
/// Driver iterations per poll before yielding to other tasks.
const BUDGET: usize = 64;

/// A reply to an open request.
pub(crate) type OpenReply = oneshot::Sender<Result<MuxChannel, MuxError>>;

/// A request from a [`super::MuxClient`] or a [`super::MuxServer`].
pub(crate) enum Command {
    /// Open a logical channel (client).
    Open {
        request: ChannelRequest,
        reply: OpenReply,
    },
    /// Close the physical connection with this code and reason, after what
    /// is already queued.
    Close { code: u16, reason: String },
}

/// A data or control frame being read from a channel's write side.
#[derive(Debug, Clone, Copy)]
struct Cur {
    header: FrameHeader,
    remaining: u64,
    offset: usize,
    started: bool,
}

struct Chan {
    shared: Arc<Mutex<Shared>>,
    /// The role of the channel's `WebSocketStream` (what it sends masked).
    role: Role,
    cur: Option<Cur>,
    close_sent: bool,
    handle_dropped: bool,
}

#[derive(Debug, PartialEq, Eq)]
enum State {
    Running,
    /// Close(code) to send on the physical connection once the transmit
    /// queue is empty.
    Failing(u16, String),
    /// Physical Close sent or received: finish the physical handshake.
    Closing,
    Done,
}

pub(crate) struct Driver<S> {
    ws: WebSocketStream<S>,
    session: MuxSession,
    wake: Arc<DriverWake>,
    channels: HashMap<ChannelId, Chan>,
    blocked: BTreeSet<ChannelId>,
    pending_out: Option<Bytes>,
    unflushed: bool,
    state: State,
    channel_config: WebSocketConfig,
    // Server.
    incoming: Option<mpsc::Sender<IncomingChannel>>,
    subprotocols: Vec<String>,
    // Client.
    commands: Option<mpsc::Receiver<Command>>,
    opening: HashMap<ChannelId, (OpenReply, String)>,
    waiting: VecDeque<(ChannelRequest, OpenReply)>,
}

/// Wrap `shared` as the user's end of channel `info.id`.
fn channel_stream(
    info: ChannelInfo,
    shared: Arc<Mutex<Shared>>,
    wake: Arc<DriverWake>,
    role: Role,
    config: &WebSocketConfig,
) -> MuxChannel {
    let protocol = info.protocol.clone();
    WebSocketStream::from_parts(
        ChannelIo::new(info, shared, wake),
        role,
        ExtensionStack::default(),
        protocol,
        config.clone(),
        BytesMut::new(),
    )
}

impl<S: AsyncRead + AsyncWrite + Unpin> Driver<S> {
    /// A server driver; returns it and channel 1's stream.
    pub(crate) fn server(
        ws: WebSocketStream<S>,
        session: MuxSession,
        channel_config: WebSocketConfig,
        subprotocols: Vec<String>,
        incoming: mpsc::Sender<IncomingChannel>,
        commands: mpsc::Receiver<Command>,
        channel1: ChannelInfo,
    ) -> (Self, MuxChannel) {
        let mut d = Self::new(ws, session, channel_config);
        d.subprotocols = subprotocols;
        d.incoming = Some(incoming);
        d.commands = Some(commands);
        let stream = d.add_channel(channel1, Role::Server);
        (d, stream)
    }

    /// A client driver; returns it and channel 1's stream.
    pub(crate) fn client(
        ws: WebSocketStream<S>,
        session: MuxSession,
        channel_config: WebSocketConfig,
        commands: mpsc::Receiver<Command>,
        channel1: ChannelInfo,
    ) -> (Self, MuxChannel) {
        let mut d = Self::new(ws, session, channel_config);
        d.commands = Some(commands);
        let stream = d.add_channel(channel1, Role::Client);
        (d, stream)
    }

    fn new(ws: WebSocketStream<S>, session: MuxSession, channel_config: WebSocketConfig) -> Self {
        Driver {
            ws,
            session,
            wake: Arc::new(DriverWake::default()),
            channels: HashMap::new(),
            blocked: BTreeSet::new(),
            pending_out: None,
            unflushed: false,
            state: State::Running,
            channel_config,
            incoming: None,
            subprotocols: Vec::new(),
            commands: None,
            opening: HashMap::new(),
            waiting: VecDeque::new(),
        }
    }

    fn add_channel(&mut self, info: ChannelInfo, role: Role) -> MuxChannel {
        let shared = Arc::new(Mutex::new(Shared::default()));
        self.channels.insert(
            info.id,
            Chan {
                shared: shared.clone(),
                role,
                cur: None,
                close_sent: false,
                handle_dropped: false,
            },
        );
        channel_stream(info, shared, self.wake.clone(), role, &self.channel_config)
    }

    /// Run until the physical connection is closed.
    pub(crate) async fn run(mut self) {
        std::future::poll_fn(|cx| self.poll(cx)).await;
        debug!("mux driver finished");
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        for _ in 0..BUDGET {
            if self.state == State::Done {
                return Poll::Ready(());
            }
            let mut progress = self.poll_commands(cx);
            let dirty = self.wake.take_or_register(None);
            if !dirty.is_empty() {
                progress = true;
                for id in dirty {
                    self.service(id);
                }
            }
            self.drain_events();
            progress |= self.poll_write(cx);
            self.drain_events();
            progress |= self.poll_read(cx);
            self.drain_events();
            self.maybe_finish_client();
            if !progress {
                let dirty = self.wake.take_or_register(Some(cx.waker()));
                if dirty.is_empty() {
                    return Poll::Pending;
                }
                for id in dirty {
                    self.service(id);
                }
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    // ------------------------------------------------------------ commands

    fn poll_commands(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        loop {
            let Some(rx) = self.commands.as_mut() else {
                return progress;
            };
            match rx.poll_recv(cx) {
                Poll::Ready(Some(Command::Open { request, reply })) => {
                    progress = true;
                    self.open(request, reply);
                }
                Poll::Ready(Some(Command::Close { code, reason })) => {
                    progress = true;
                    if self.state == State::Running {
                        debug!(code, %reason, "closing the physical connection on request");
                        self.state = State::Failing(code, reason);
                    }
                }
                Poll::Ready(None) => {
                    debug!("mux client handle dropped");
                    self.commands = None;
                    return true;
                }
                Poll::Pending => return progress,
            }
        }
    }

    fn open(&mut self, request: ChannelRequest, reply: OpenReply) {
        if self.state != State::Running {
            let _ = reply.send(Err(MuxError::Closed));
            return;
        }
        if self.session.free_slots() == 0 {
            if self.waiting.len() >= self.session.config().max_channels as usize {
                let _ = reply.send(Err(MuxError::Session(ws_mux::MuxError::NoChannelSlot)));
            } else {
                trace!(path = %request.path, "waiting for a channel slot");
                self.waiting.push_back((request, reply));
            }
            return;
        }
        let path = request.path.clone();
        match self.session.open_channel(request) {
            Ok(id) => {
                self.opening.insert(id, (reply, path));
            }
            Err(e) => {
                let _ = reply.send(Err(MuxError::Session(e)));
            }
        }
    }

    fn maybe_finish_client(&mut self) {
        if self.state == State::Running
            && self.incoming.as_ref().is_none_or(|tx| tx.is_closed())
            && self.commands.is_none()
            && self.channels.is_empty()
            && self.opening.is_empty()
            && self.waiting.is_empty()
        {
            debug!("no channel and no client handle left: closing the physical connection");
            self.state = State::Failing(1000, String::new());
        }
    }

    // ------------------------------------------------------------ channels

    /// Release consumed quota, forward written frames, handle drops.
    fn service(&mut self, id: ChannelId) {
        if self.state != State::Running {
            return;
        }
        let limit = self.session.config().max_send_buffer;
        let Some(c) = self.channels.get_mut(&id) else {
            return;
        };
        let shared = c.shared.clone();
        let mut s = lock(&shared);
        if s.consumed > 0 {
            let n = std::mem::take(&mut s.consumed);
            let _ = self.session.release(id, n);
        }
        if let Some((code, reason)) = s.drop_request.take() {
            debug!(channel = id, code, %reason, "dropping channel");
            let _ = self.session.drop_channel(id, code, &reason);
            s.end(End::Error(
                io::ErrorKind::ConnectionAborted,
                format!("logical channel {id} dropped ({code} {reason})"),
            ));
            drop(s);
            self.channels.remove(&id);
            self.blocked.remove(&id);
            return;
        }
        let was_full = s.outbound.len() >= WRITE_BUFFER;
        let mut blocked = false;
        let mut failure = None;
        loop {
            let cur = match c.cur {
                Some(cur) => cur,
                None => match FrameHeader::parse(&s.outbound) {
                    Ok(None) => break,
                    Ok(Some((header, n))) => {
                        let _ = s.outbound.split_to(n);
                        let cur = Cur {
                            header,
                            remaining: header.payload_len,
                            offset: 0,
                            started: false,
                        };
                        c.cur = Some(cur);
                        cur
                    }
                    Err(e) => {
                        warn!(channel = id, error = %e, "unparsable frame from the channel's stream");
                        failure = Some(3000);
                        break;
                    }
                },
            };
            let h = cur.header;
            let frame = if h.opcode.is_control() {
                if (s.outbound.len() as u64) < cur.remaining {
                    break;
                }
                let mut p = s.outbound.split_to(cur.remaining as usize);
                if let Some(m) = h.mask {
                    apply_mask(&mut p, m);
                }
                c.cur = None;
                Frame::new(true, h.opcode, p.freeze())
            } else {
                if cur.remaining > 0 && s.outbound.is_empty() {
                    break;
                }
                let n = (cur.remaining.min(s.outbound.len() as u64) as usize).min(CHUNK);
                let queued = self.session.queued_bytes(id).unwrap_or(0);
                if n > 0 && queued + n > limit {
                    blocked = true;
                    break;
                }
                let mut p = s.outbound.split_to(n);
                if let Some(m) = h.mask {
                    let o = cur.offset;
                    apply_mask(
                        &mut p,
                        [m[o % 4], m[(o + 1) % 4], m[(o + 2) % 4], m[(o + 3) % 4]],
                    );
                }
                let remaining = cur.remaining - n as u64;
                let opcode = if cur.started {
                    OpCode::Continuation
                } else {
                    h.opcode
                };
                c.cur = (remaining > 0).then_some(Cur {
                    remaining,
                    offset: cur.offset + n,
                    started: true,
                    ..cur
                });
                Frame {
                    fin: h.fin && remaining == 0,
                    rsv: RsvBits::NONE,
                    opcode,
                    payload: p.freeze(),
                }
            };
            let close = frame.opcode == OpCode::Close;
            match self.session.send_frame(id, frame) {
                Ok(()) => c.close_sent |= close,
                Err(e) if e.fails_physical() || matches!(e, ws_mux::MuxError::SessionFailed) => {
                    drop(s);
                    self.on_session_error(e);
                    return;
                }
                Err(ws_mux::MuxError::InvalidFrame { reason, .. }) => {
                    debug!(channel = id, %reason, "frame not sent");
                }
                Err(e) => {
                    // The channel is gone (dropped, failed by an extension):
                    // its event ends the handle.
                    debug!(channel = id, error = %e, "frame not sent");
                    break;
                }
            }
        }
        if blocked {
            self.blocked.insert(id);
        } else {
            self.blocked.remove(&id);
        }
        if was_full && s.outbound.len() < WRITE_BUFFER {
            s.wake_writers();
        }
        let dropped = s.handle_dropped;
        drop(s);
        if let Some(code) = failure {
            let _ = self.session.drop_channel(id, code, "unparsable frame");
            self.end_channel(id, io_err(io::ErrorKind::InvalidData, "unparsable frame"));
            return;
        }
        if dropped {
            self.handle_dropped(id);
        }
    }

    fn handle_dropped(&mut self, id: ChannelId) {
        let Some(c) = self.channels.get_mut(&id) else {
            return;
        };
        c.handle_dropped = true;
        let consumed = {
            let mut s = lock(&c.shared);
            s.inbound.iter().map(|(_, cost)| cost).sum::<u64>() + std::mem::take(&mut s.consumed)
        };
        let _ = self.session.release(id, consumed);
        if c.close_sent {
            // The closing handshake is under way: let the peer's Close end it.
            trace!(
                channel = id,
                "handle dropped after Close; waiting for the peer's"
            );
            lock(&c.shared).end(End::Eof);
            return;
        }
        debug!(channel = id, "handle dropped without a closing handshake");
        let _ = self
            .session
            .drop_channel(id, 1000, "channel handle dropped");
        self.channels.remove(&id);
        self.blocked.remove(&id);
    }

    fn end_channel(&mut self, id: ChannelId, end: End) {
        if let Some(c) = self.channels.remove(&id) {
            lock(&c.shared).end(end);
        }
        self.blocked.remove(&id);
    }

    fn end_all(&mut self, why: &str) {
        for (_, c) in self.channels.drain() {
            lock(&c.shared).end(io_err(io::ErrorKind::ConnectionAborted, why));
        }
        self.blocked.clear();
        for (_, (reply, _)) in self.opening.drain() {
            let _ = reply.send(Err(MuxError::Closed));
        }
        for (_, reply) in self.waiting.drain(..) {
            let _ = reply.send(Err(MuxError::Closed));
        }
        self.incoming = None;
    }

    // -------------------------------------------------------------- events

    fn drain_events(&mut self) {
        while let Some((event, cost)) = self.session.poll_event_with_cost() {
            match event {
                Event::ChannelOpenRequested {
                    channel,
                    request,
                    protocols,
                    extensions,
                } => self.on_open_requested(channel, request, protocols, extensions),
                Event::ChannelOpened {
                    channel,
                    protocol,
                    extensions,
                    ..
                } => {
                    let Some((reply, path)) = self.opening.remove(&channel) else {
                        let _ = self.session.drop_channel(channel, 1000, "no longer wanted");
                        continue;
                    };
                    let info = ChannelInfo {
                        id: channel,
                        path,
                        extensions,
                        protocol,
                    };
                    debug!(?info, "channel opened");
                    let stream = self.add_channel(info, Role::Client);
                    // A requester that gave up drops the stream: the channel
                    // is dropped through the handle.
                    let _ = reply.send(Ok(stream));
                }
                Event::ChannelRejected { channel, response } => {
                    if let Some((reply, _)) = self.opening.remove(&channel) {
                        let _ = reply.send(Err(MuxError::Rejected {
                            status: response.status,
                        }));
                    }
                }
                Event::Frame { channel, frame } => self.on_frame(channel, frame, cost),
                Event::QuotaAvailable { channel } => {
                    if self.blocked.contains(&channel) {
                        self.wake.mark(channel);
                    }
                }
                Event::ChannelClosed { channel } => {
                    debug!(channel, "channel closed");
                    self.end_channel(channel, End::Eof);
                }
                Event::ChannelDropped {
                    channel,
                    code,
                    reason,
                    by_peer,
                } => {
                    let who = if by_peer { "by the peer" } else { "by us" };
                    let msg = format!(
                        "logical channel {channel} dropped {who} (code {}: {reason})",
                        code.map_or("none".to_owned(), |c| c.to_string())
                    );
                    debug!("{msg}");
                    if let Some((reply, _)) = self.opening.remove(&channel) {
                        let _ = reply.send(Err(MuxError::ChannelDropped { code, reason }));
                    }
                    self.end_channel(channel, End::Error(io::ErrorKind::ConnectionReset, msg));
                }
                Event::SlotsAvailable { slots } => {
                    trace!(slots, "channel slots available");
                    while self.session.free_slots() > 0 {
                        let Some((request, reply)) = self.waiting.pop_front() else {
                            break;
                        };
                        self.open(request, reply);
                    }
                }
                Event::Fallback => {
                    for (_, reply) in self.waiting.drain(..) {
                        let _ = reply.send(Err(MuxError::Session(ws_mux::MuxError::Fallback)));
                    }
                }
            }
        }
    }

    fn on_open_requested(
        &mut self,
        channel: ChannelId,
        request: HandshakeRequest,
        protocols: Vec<String>,
        extensions: Vec<String>,
    ) {
        let permit = match self.incoming.clone().map(|tx| tx.try_reserve_owned()) {
            Some(Ok(p)) => p,
            _ => {
                debug!(channel, "no one takes incoming channels now: 503");
                let _ = self.session.reject_channel(channel, 503);
                return;
            }
        };
        let protocol = self
            .subprotocols
            .iter()
            .find(|p| protocols.contains(p))
            .cloned();
        if let Err(e) = self
            .session
            .accept_channel(channel, protocol.as_deref(), Headers::new())
        {
            warn!(channel, error = %e, "cannot accept the channel");
            return;
        }
        let info = ChannelInfo {
            id: channel,
            path: request.path.clone(),
            extensions,
            protocol,
        };
        debug!(?info, "channel accepted");
        let stream = self.add_channel(info, Role::Server);
        permit.send(IncomingChannel { request, stream });
    }

    fn on_frame(&mut self, channel: ChannelId, frame: Frame, cost: u64) {
        let Some(c) = self.channels.get(&channel) else {
            let _ = self.session.release(channel, cost);
            return;
        };
        if c.handle_dropped {
            let _ = self.session.release(channel, cost);
            return;
        }
        // The channel's stream is the other end: a server stream expects
        // masked frames (a zero key: the payload is sent as is).
        let mut head = BytesMut::with_capacity(14);
        FrameHeader {
            fin: frame.fin,
            rsv: RsvBits::NONE,
            opcode: frame.opcode,
            mask: (c.role == Role::Server).then_some([0; 4]),
            payload_len: frame.payload.len() as u64,
        }
        .write(&mut head);
        let mut s = lock(&c.shared);
        if frame.payload.is_empty() {
            s.push_inbound(head.freeze(), cost);
        } else {
            s.push_inbound(head.freeze(), 0);
            s.push_inbound(frame.payload, cost);
        }
    }

    // ------------------------------------------------------------ physical

    fn on_session_error(&mut self, e: ws_mux::MuxError) {
        warn!(error = %e, "mux session failed: closing the physical connection");
        self.end_all(&format!("physical connection failed: {e}"));
        if self.state == State::Running {
            self.state = State::Failing(
                e.close_code()
                    .unwrap_or(ws_mux::PHYSICAL_FAILURE_CLOSE_CODE),
                "mux failure".into(),
            );
        }
    }

    /// Write what the session has to send. Returns whether anything moved.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> bool {
        if matches!(self.state, State::Closing | State::Done) {
            return false;
        }
        let mut sent = false;
        loop {
            if self.pending_out.is_none() {
                self.pending_out = self.session.poll_transmit();
            }
            let Some(p) = self.pending_out.take() else {
                break;
            };
            match Pin::new(&mut self.ws).poll_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Pending => {
                    self.pending_out = Some(p);
                    break;
                }
                Poll::Ready(Err(e)) => return self.physical_gone(&e.to_string()),
            }
            if let Err(e) = Pin::new(&mut self.ws).start_send(Message::Binary(p)) {
                return self.physical_gone(&e.to_string());
            }
            sent = true;
            self.unflushed = true;
        }
        if sent && !self.blocked.is_empty() {
            for id in std::mem::take(&mut self.blocked) {
                self.wake.mark(id);
            }
        }
        if let State::Failing(code, reason) = &self.state {
            if self.pending_out.is_none() {
                let frame = CloseFrame {
                    code: (*code).into(),
                    reason: reason.clone().into(),
                };
                debug!(code, "closing the physical connection");
                if let Err(e) = Pin::new(&mut self.ws).start_send(Message::Close(Some(frame))) {
                    debug!(error = %e, "physical close not sent");
                }
                self.state = State::Closing;
                self.unflushed = true;
                sent = true;
            }
        }
        if self.unflushed {
            match Pin::new(&mut self.ws).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Pending => {}
                Poll::Ready(Err(e)) => return self.physical_gone(&e.to_string()),
            }
        }
        sent
    }

    fn physical_gone(&mut self, why: &str) -> bool {
        debug!(%why, "physical connection gone");
        self.end_all(&format!("physical connection closed: {why}"));
        self.state = State::Done;
        true
    }

    fn poll_read(&mut self, cx: &mut Context<'_>) -> bool {
        if self.state == State::Done {
            return false;
        }
        match Pin::new(&mut self.ws).poll_next(cx) {
            Poll::Pending => false,
            Poll::Ready(None) => self.physical_gone("end of stream"),
            Poll::Ready(Some(Err(e))) => self.physical_gone(&e.to_string()),
            Poll::Ready(Some(Ok(msg))) => {
                if matches!(self.state, State::Closing) {
                    return true;
                }
                let r = match msg {
                    Message::Binary(b) => self.session.receive_physical(b),
                    Message::Text(_) => Err(self.session.receive_physical_text()),
                    Message::Close(frame) => {
                        debug!(?frame, "physical close received");
                        self.end_all(&match &frame {
                            Some(f) => format!(
                                "physical connection closed by the peer ({} {})",
                                u16::from(f.code),
                                f.reason
                            ),
                            None => "physical connection closed by the peer".to_owned(),
                        });
                        self.state = State::Closing;
                        Ok(())
                    }
                    _ => Ok(()),
                };
                if let Err(e) = r {
                    self.on_session_error(e);
                }
                true
            }
        }
    }
}

fn io_err(kind: io::ErrorKind, msg: &str) -> End {
    End::Error(kind, msg.to_owned())
}
