//! The sans-I/O mux session: one per physical connection, per role.
//!
//! Drive it from one loop:
//!
//! 1. every binary message read from the physical connection →
//!    [`MuxSession::receive_physical`] (a text message →
//!    [`MuxSession::receive_physical_text`]);
//! 2. drain [`MuxSession::poll_event`] and route the events to per-channel
//!    handles;
//! 3. application calls ([`MuxSession::send_frame`],
//!    [`MuxSession::open_channel`], [`MuxSession::accept_channel`], …);
//! 4. write every [`MuxSession::poll_transmit`] payload as one binary
//!    message on the physical connection, until it returns `None`.
//!
//! When a call returns an error with [`MuxError::fails_physical`], write
//! what `poll_transmit` still returns (the DropChannel on channel 0) and
//! close the physical connection with 1011.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use tracing::{debug, error, trace, warn};
use ws_ext_core::header::{self, ExtensionElement};
use ws_ext_core::{
    ClientExtensionFactory, ClientNegotiator, ExtensionStack, Frame, OpCode, RecvStack, RsvBits,
    SendStack, ServerNegotiator,
};

use crate::config::MuxConfig;
use crate::control::{ControlBlock, DropReason, HandshakeEncoding};
use crate::drop_code;
use crate::error::{MuxError, WireError};
use crate::event::Event;
use crate::handshake::{
    HandshakeRequest, HandshakeResponse, Headers, REQUEST_EXCLUDED, RESPONSE_EXCLUDED,
};
use crate::incoming::Reassembly;
use crate::negotiate::{is_frame_boundary, MuxAgreement};
use crate::outgoing::SendQueue;
use crate::quota;
use crate::unit::{self, MuxUnit};
use crate::wire::MAX_CHANNEL_ID;
use crate::ChannelId;

/// Which end of the physical connection this session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Opens channels, receives NewChannelSlot and AddChannelResponse.
    Client,
    /// Grants slots, answers AddChannelRequest.
    Server,
}

/// What a client asks for when it opens a channel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelRequest {
    /// The request target (`/chat`).
    pub path: String,
    /// Headers to set (replacing those of the same name in the delta base,
    /// i.e. the physical request's): `Origin`, cookies…
    pub headers: Headers,
    /// Subprotocols to offer, most preferred first.
    pub protocols: Vec<String>,
    /// Offer no extension on this channel (by default the session's channel
    /// extensions are offered), e.g. a plain channel beside compressed ones.
    pub plain: bool,
}

impl ChannelRequest {
    /// A request for `path` with nothing else.
    pub fn new(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            ..Self::default()
        }
    }
}

/// The peer-caused fault that ends the session.
enum Fault {
    Physical(WireError),
    PeerPhysical(Option<u16>, String),
}

impl From<WireError> for Fault {
    fn from(e: WireError) -> Self {
        Fault::Physical(e)
    }
}

fn phys(code: u16, reason: impl Into<String>) -> Fault {
    Fault::Physical(WireError::new(code, reason))
}

#[derive(Debug)]
enum ChannelState {
    /// Client: AddChannelRequest sent, waiting for the response.
    Opening { protocols: Vec<String> },
    /// Server: AddChannelRequest received, waiting for the application.
    Pending {
        protocols: Vec<String>,
        stack: ExtensionStack,
    },
    /// Open both ways.
    Open,
}

#[derive(Debug)]
struct Channel {
    state: ChannelState,
    send_stack: SendStack,
    recv_stack: RecvStack,
    send_quota: u64,
    queue: SendQueue,
    app_message_open: bool,
    close_queued: bool,
    close_sent: bool,
    recv_quota: u64,
    window: u64,
    to_grant: u64,
    reassembly: Reassembly,
    message_bytes: usize,
    close_received: bool,
    deferred: VecDeque<(Frame, u64)>,
}

impl Channel {
    fn new(state: ChannelState, send_quota: u64, recv_quota: u64, window: u64) -> Self {
        Self {
            state,
            send_stack: SendStack::default(),
            recv_stack: RecvStack::default(),
            send_quota,
            queue: SendQueue::default(),
            app_message_open: false,
            close_queued: false,
            close_sent: false,
            recv_quota,
            window,
            to_grant: 0,
            reassembly: Reassembly::default(),
            message_bytes: 0,
            close_received: false,
            deferred: VecDeque::new(),
        }
    }

    fn install(&mut self, stack: ExtensionStack) {
        let (s, r) = stack.split();
        self.send_stack = s;
        self.recv_stack = r;
        self.state = ChannelState::Open;
    }

    fn is_open(&self) -> bool {
        matches!(self.state, ChannelState::Open)
    }

    /// Give `n` bytes of quota back to the peer, never beyond the window.
    fn grant(&mut self, n: u64) {
        let room = self
            .window
            .saturating_sub(self.recv_quota.saturating_add(self.to_grant));
        self.to_grant += n.min(room);
    }
}

enum Extensions {
    Server(ServerNegotiator),
    Client {
        negotiator: ClientNegotiator,
        offer: Option<String>,
    },
}

/// A multiplexing session over one physical connection. See the module
/// docs for the driving loop and [`crate`] for an example.
pub struct MuxSession {
    role: Role,
    cfg: MuxConfig,
    token: String,
    extensions: Extensions,
    channels: BTreeMap<ChannelId, Channel>,
    events: VecDeque<(Event, Option<(ChannelId, u64)>)>,
    quota_events: HashSet<ChannelId>,
    control: Vec<ControlBlock>,
    /// Client: slots granted by the server and unused. Server: slots granted
    /// to the client and unused. `(count, quota)` in grant order.
    slots: VecDeque<(u64, u64)>,
    slots_to_grant: u64,
    fallback: bool,
    failed: Option<Option<Bytes>>,
    last_served: ChannelId,
    next_id: ChannelId,
    sent_identity: bool,
    request_base: Headers,
    response_base: Headers,
}

impl std::fmt::Debug for MuxSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MuxSession")
            .field("role", &self.role)
            .field("channels", &self.channels.keys().collect::<Vec<_>>())
            .field("failed", &self.failed.is_some())
            .finish()
    }
}

/// The physical request's headers as the delta base: physical-only headers
/// removed, `Sec-WebSocket-Extensions` replaced by the offers before `mux`.
fn request_base(physical: &Headers, token: &str) -> Headers {
    let mut base = physical.without(REQUEST_EXCLUDED);
    let lines: Vec<&[u8]> = physical
        .get_all("sec-websocket-extensions")
        .map(str::as_bytes)
        .collect();
    let before = header::parse(lines)
        .ok()
        .and_then(|offers| {
            let i = offers.iter().position(|o| o.is(token))?;
            Some(offers[..i].to_vec())
        })
        .unwrap_or_default();
    base.set(
        "Sec-WebSocket-Extensions",
        (!before.is_empty()).then(|| header::format(&before)),
    );
    base
}

fn parse_protocols(headers: &Headers) -> Vec<String> {
    headers
        .get_all("sec-websocket-protocol")
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

fn extension_offers(headers: &Headers) -> Result<Vec<ExtensionElement>, String> {
    let lines: Vec<&[u8]> = headers
        .get_all("sec-websocket-extensions")
        .filter(|v| !v.trim().is_empty())
        .map(str::as_bytes)
        .collect();
    if lines.is_empty() {
        return Ok(Vec::new());
    }
    header::parse(lines).map_err(|e| e.to_string())
}

impl MuxSession {
    fn new(role: Role, cfg: MuxConfig, agreement: &MuxAgreement, extensions: Extensions) -> Self {
        Self {
            role,
            cfg: cfg.normalized(),
            token: agreement.token.clone(),
            extensions,
            channels: BTreeMap::new(),
            events: VecDeque::new(),
            quota_events: HashSet::new(),
            control: Vec::new(),
            slots: VecDeque::new(),
            slots_to_grant: 0,
            fallback: false,
            failed: None,
            last_served: 0,
            next_id: 2,
            sent_identity: false,
            request_base: Headers::new(),
            response_base: Headers::new(),
        }
    }

    /// The server's session, once the physical handshake agreed `mux`.
    ///
    /// - `cfg`: limits and policy.
    /// - `channel_extensions`: negotiates the extensions of each channel the
    ///   client opens (from its AddChannelRequest).
    /// - `agreement`: from [`crate::negotiate_server`] or
    ///   [`crate::find_agreement`]; its `quota` is our initial send quota on
    ///   channel 1.
    /// - `physical_request`: the physical opening request (its headers are
    ///   the delta base).
    /// - `channel1`: channel 1's extensions (`MuxNegotiation::channel1`).
    ///
    /// Queues FlowControl(1, `receive_window`) and
    /// NewChannelSlot(`initial_slots`, `slot_quota`), in that order (as
    /// mod_pywebsocket does).
    pub fn server(
        cfg: MuxConfig,
        channel_extensions: ServerNegotiator,
        agreement: &MuxAgreement,
        physical_request: &Headers,
        channel1: ExtensionStack,
    ) -> Self {
        let mut s = Self::new(
            Role::Server,
            cfg,
            agreement,
            Extensions::Server(channel_extensions),
        );
        s.request_base = request_base(physical_request, &agreement.token);
        let window = s.cfg.receive_window;
        let mut ch1 = Channel::new(
            ChannelState::Open,
            u64::from(agreement.quota.unwrap_or(0)),
            window,
            window,
        );
        ch1.install(channel1);
        s.channels.insert(1, ch1);
        s.control.push(ControlBlock::FlowControl {
            channel: 1,
            quota: window,
        });
        let slots = u64::from(s.cfg.initial_slots.min(s.cfg.max_channels - 1));
        if slots > 0 {
            s.slots.push_back((slots, s.cfg.slot_quota));
            s.control.push(ControlBlock::NewChannelSlot {
                slots,
                quota: s.cfg.slot_quota,
                fallback: false,
            });
        }
        s
    }

    /// The client's session, once the physical handshake agreed `mux`.
    ///
    /// - `channel_extensions`: offered in each AddChannelRequest (and, before
    ///   `mux`, in the physical offer for channel 1); validated against each
    ///   AddChannelResponse.
    /// - `agreement`: from [`crate::finish_client`]; its `quota` (what we
    ///   offered) is our receive quota on channel 1. If `receive_window` is
    ///   larger, a FlowControl(1, difference) is queued.
    /// - `physical_request` / `physical_response`: the physical handshake's
    ///   headers (the delta bases).
    /// - `channel1`: channel 1's extensions.
    ///
    /// Our send quota on channel 1 is 0 until the server's FlowControl; no
    /// channel can be opened until its NewChannelSlot.
    pub fn client(
        cfg: MuxConfig,
        channel_extensions: Vec<Arc<dyn ClientExtensionFactory>>,
        agreement: &MuxAgreement,
        physical_request: &Headers,
        physical_response: &Headers,
        channel1: ExtensionStack,
    ) -> Self {
        let mut negotiator = ClientNegotiator::new();
        for f in &channel_extensions {
            negotiator.push(f.clone());
        }
        let offer = negotiator.offer_header();
        let mut s = Self::new(
            Role::Client,
            cfg,
            agreement,
            Extensions::Client { negotiator, offer },
        );
        s.request_base = request_base(physical_request, &agreement.token);
        s.response_base = physical_response.without(RESPONSE_EXCLUDED);
        let offered = u64::from(agreement.quota.unwrap_or(0));
        let window = s.cfg.receive_window.max(offered);
        let mut ch1 = Channel::new(ChannelState::Open, 0, offered, window);
        ch1.install(channel1);
        ch1.to_grant = window - offered;
        s.channels.insert(1, ch1);
        s
    }

    /// This session's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The agreed token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The limits in force.
    pub fn config(&self) -> &MuxConfig {
        &self.cfg
    }

    /// Whether the session has failed (physical connection to be closed).
    pub fn is_failed(&self) -> bool {
        self.failed.is_some()
    }

    /// The channels that exist (opening, pending or open), ascending.
    pub fn channels(&self) -> Vec<ChannelId> {
        self.channels.keys().copied().collect()
    }

    /// Whether `channel` is open both ways.
    pub fn is_open(&self, channel: ChannelId) -> bool {
        self.channels.get(&channel).is_some_and(Channel::is_open)
    }

    /// Our current send quota on `channel`.
    pub fn send_quota(&self, channel: ChannelId) -> Option<u64> {
        self.channels.get(&channel).map(|c| c.send_quota)
    }

    /// What the peer may still send on `channel` before our next grant.
    pub fn receive_quota(&self, channel: ChannelId) -> Option<u64> {
        self.channels.get(&channel).map(|c| c.recv_quota)
    }

    /// Payload bytes queued on `channel`, waiting for quota.
    pub fn queued_bytes(&self, channel: ChannelId) -> Option<usize> {
        self.channels.get(&channel).map(|c| c.queue.bytes())
    }

    /// Client: unused channel slots.
    pub fn free_slots(&self) -> u64 {
        self.slots.iter().map(|(n, _)| n).sum()
    }

    /// Whether [`MuxSession::poll_transmit`] has something now.
    pub fn wants_transmit(&self) -> bool {
        if let Some(p) = &self.failed {
            return p.is_some();
        }
        !self.control.is_empty()
            || self.slots_to_grant > 0
            || self.channels.values().any(|c| {
                c.to_grant > 0
                    || (c.is_open() && c.queue.min_cost().is_some_and(|m| m <= c.send_quota))
            })
    }

    // ---------------------------------------------------------------- input

    /// Feed one binary message payload from the physical connection.
    ///
    /// Logical-channel faults (quota violation 3005, bad fragmentation 3009,
    /// undecodable data 3000…) drop that channel and return `Ok` (see
    /// [`Event::ChannelDropped`]). Physical faults return
    /// [`MuxError::PhysicalFailed`]; a DropChannel on channel 0 returns
    /// [`MuxError::PeerFailedPhysical`].
    pub fn receive_physical(&mut self, payload: Bytes) -> Result<(), MuxError> {
        if self.failed.is_some() {
            return Err(MuxError::SessionFailed);
        }
        let result = match MuxUnit::decode(payload) {
            Ok(MuxUnit::Control(blocks)) => self.on_control(blocks),
            Ok(MuxUnit::Frame { channel, frame }) => {
                self.on_frame(channel, frame);
                Ok(())
            }
            Err(e) => Err(Fault::Physical(e)),
        };
        match result {
            Ok(()) => Ok(()),
            Err(Fault::Physical(e)) => Err(self.fail(e.code, e.reason)),
            Err(Fault::PeerPhysical(code, reason)) => {
                warn!(?code, %reason, "peer failed the physical connection");
                self.shutdown(None);
                Err(MuxError::PeerFailedPhysical { code, reason })
            }
        }
    }

    /// A text message arrived on the physical connection: not a mux unit,
    /// Fail the Physical Connection (2001).
    pub fn receive_physical_text(&mut self) -> MuxError {
        if self.failed.is_some() {
            return MuxError::SessionFailed;
        }
        self.fail(
            drop_code::INVALID_ENCAPSULATING_MESSAGE,
            "text message on the physical connection".into(),
        )
    }

    /// Fail the Physical Connection ourselves: queue DropChannel(0, `code`,
    /// `reason`) as the last thing to send, drop every channel. Then close
    /// the physical connection with 1011. `code` should be in 2000–2999.
    pub fn fail_physical(&mut self, code: u16, reason: &str) -> MuxError {
        if self.failed.is_some() {
            return MuxError::SessionFailed;
        }
        self.fail(code, reason.to_owned())
    }

    fn fail(&mut self, code: u16, reason: String) -> MuxError {
        warn!(code, %reason, "failing the physical connection");
        let payload = unit::encode_control(&[ControlBlock::DropChannel {
            channel: 0,
            reason: Some(DropReason {
                code,
                message: reason.clone(),
            }),
        }])
        .ok();
        self.shutdown(payload);
        MuxError::PhysicalFailed { code, reason }
    }

    fn shutdown(&mut self, last: Option<Bytes>) {
        self.channels.clear();
        self.control.clear();
        self.slots_to_grant = 0;
        self.failed = Some(last);
    }

    fn on_control(&mut self, blocks: Vec<ControlBlock>) -> Result<(), Fault> {
        for block in blocks {
            let allowed = match self.role {
                Role::Server => block.allowed_from_client(),
                Role::Client => block.allowed_from_server(),
            };
            if !allowed {
                return Err(phys(
                    drop_code::INVALID_MUX_CONTROL_BLOCK,
                    format!("{} may not be sent to a {:?}", block.kind(), self.role),
                ));
            }
            trace!(block = block.kind(), "control block");
            match block {
                ControlBlock::AddChannelRequest {
                    channel,
                    encoding,
                    handshake,
                } => self.on_add_request(channel, encoding, &handshake)?,
                ControlBlock::AddChannelResponse {
                    channel,
                    rejected,
                    encoding,
                    handshake,
                } => self.on_add_response(channel, rejected, encoding, &handshake)?,
                ControlBlock::FlowControl { channel, quota } => {
                    self.on_flow_control(channel, quota)
                }
                ControlBlock::DropChannel { channel: 0, reason } => {
                    let (code, message) = match reason {
                        Some(r) => (Some(r.code), r.message),
                        None => (None, String::new()),
                    };
                    return Err(Fault::PeerPhysical(code, message));
                }
                ControlBlock::DropChannel { channel, reason } => self.on_drop(channel, reason),
                ControlBlock::NewChannelSlot {
                    slots,
                    quota,
                    fallback,
                } => self.on_new_slot(slots, quota, fallback)?,
            }
        }
        Ok(())
    }

    fn on_new_slot(&mut self, slots: u64, quota: u64, fallback: bool) -> Result<(), Fault> {
        if fallback {
            if slots != 0 || quota != 0 {
                return Err(phys(
                    drop_code::INVALID_MUX_CONTROL_BLOCK,
                    "fallback NewChannelSlot with non-zero slots or quota",
                ));
            }
            debug!("server asked for a new physical connection");
            if !self.fallback {
                self.fallback = true;
                self.events.push_back((Event::Fallback, None));
            }
            return Ok(());
        }
        if slots == 0 {
            return Ok(());
        }
        let total = self.free_slots().saturating_add(slots);
        if total > self.cfg.max_slots {
            return Err(phys(
                drop_code::NEW_CHANNEL_SLOT_OVERFLOW,
                format!(
                    "{total} unused channel slots, more than the limit of {}",
                    self.cfg.max_slots
                ),
            ));
        }
        match self.slots.back_mut() {
            Some((n, q)) if *q == quota => *n += slots,
            _ => self.slots.push_back((slots, quota)),
        }
        self.events
            .push_back((Event::SlotsAvailable { slots }, None));
        Ok(())
    }

    fn take_slot(&mut self) -> Option<u64> {
        let (n, q) = self.slots.front_mut()?;
        let quota = *q;
        *n -= 1;
        if *n == 0 {
            self.slots.pop_front();
        }
        Some(quota)
    }

    fn on_flow_control(&mut self, channel: ChannelId, add: u64) {
        let Some(ch) = self.channels.get_mut(&channel) else {
            debug!(channel, "FlowControl for an unknown channel ignored");
            return;
        };
        match quota::replenish(ch.send_quota, add) {
            Some(q) => {
                ch.send_quota = q;
                if add > 0 && self.quota_events.insert(channel) {
                    self.events
                        .push_back((Event::QuotaAvailable { channel }, None));
                }
            }
            None => self.fail_logical(
                channel,
                drop_code::SEND_QUOTA_OVERFLOW,
                format!("FlowControl of {add} pushes the send quota above 2^63-1"),
            ),
        }
    }

    fn on_drop(&mut self, channel: ChannelId, reason: Option<DropReason>) {
        let Some(_) = self.channels.remove(&channel) else {
            debug!(channel, "DropChannel for an unknown channel ignored");
            return;
        };
        let (code, message) = match reason {
            Some(r) => (Some(r.code), r.message),
            None => (None, String::new()),
        };
        debug!(channel, ?code, %message, "peer dropped the channel");
        if code != Some(drop_code::DROP_CHANNEL_ACK) {
            self.control.push(ControlBlock::DropChannel {
                channel,
                reason: Some(DropReason {
                    code: drop_code::DROP_CHANNEL_ACK,
                    message: String::new(),
                }),
            });
        }
        self.events.push_back((
            Event::ChannelDropped {
                channel,
                code,
                reason: message,
                by_peer: true,
            },
            None,
        ));
        self.channel_gone();
    }

    fn on_add_request(
        &mut self,
        channel: ChannelId,
        encoding: HandshakeEncoding,
        handshake: &[u8],
    ) -> Result<(), Fault> {
        if channel == 0 || self.channels.contains_key(&channel) {
            return Err(phys(
                drop_code::CHANNEL_ALREADY_EXISTS,
                format!("AddChannelRequest for channel {channel}, which exists"),
            ));
        }
        let Some(slot_quota) = self.take_slot() else {
            return Err(phys(
                drop_code::NEW_CHANNEL_SLOT_VIOLATION,
                format!("AddChannelRequest for channel {channel} without a free slot"),
            ));
        };
        let limit = self.cfg.max_handshake_size;
        let request = HandshakeRequest::parse(handshake, limit).map(|mut r| {
            if encoding == HandshakeEncoding::Delta {
                r.headers = self.request_base.apply_delta(&r.headers);
            }
            r
        });
        let request = match request {
            Ok(r) if r.method == "GET" => r,
            Ok(r) => {
                self.refuse(channel, 400, &format!("method {} is not GET", r.method));
                return Ok(());
            }
            Err(e) => {
                self.refuse(channel, 400, &e.to_string());
                return Ok(());
            }
        };
        let Extensions::Server(negotiator) = &self.extensions else {
            return Err(phys(
                drop_code::INVALID_MUX_CONTROL_BLOCK,
                "AddChannelRequest to a client",
            ));
        };
        let stack = extension_offers(&request.headers).and_then(|offers| {
            let offers: Vec<ExtensionElement> = offers
                .into_iter()
                .filter(|o| !is_frame_boundary(&o.name) && !o.is(&self.token))
                .collect();
            negotiator
                .negotiate_offers(&offers)
                .map_err(|e| e.to_string())
        });
        let stack = match stack {
            Ok(s) => s,
            Err(e) => {
                self.refuse(channel, 400, &e);
                return Ok(());
            }
        };
        let protocols = parse_protocols(&request.headers);
        let extensions = stack.names().into_iter().map(str::to_owned).collect();
        debug!(channel, path = %request.path, "channel requested");
        self.channels.insert(
            channel,
            Channel::new(
                ChannelState::Pending {
                    protocols: protocols.clone(),
                    stack,
                },
                0,
                slot_quota,
                slot_quota,
            ),
        );
        self.events.push_back((
            Event::ChannelOpenRequested {
                channel,
                request,
                protocols,
                extensions,
            },
            None,
        ));
        Ok(())
    }

    /// Queue a refusing AddChannelResponse (the slot was used up).
    fn refuse(&mut self, channel: ChannelId, status: u16, why: &str) {
        debug!(channel, status, why, "refusing channel");
        let reason = match status {
            400 => "Bad Request",
            403 => "Forbidden",
            404 => "Not Found",
            503 => "Service Unavailable",
            _ => "Error",
        };
        let text = format!("HTTP/1.1 {status} {reason}\r\n\r\n");
        self.control.push(ControlBlock::AddChannelResponse {
            channel,
            rejected: true,
            encoding: HandshakeEncoding::Identity,
            handshake: Bytes::from(text),
        });
        self.channel_gone();
    }

    fn on_add_response(
        &mut self,
        channel: ChannelId,
        rejected: bool,
        encoding: HandshakeEncoding,
        handshake: &[u8],
    ) -> Result<(), Fault> {
        let Some(ch) = self.channels.get(&channel) else {
            debug!(
                channel,
                "AddChannelResponse for a channel we no longer have; ignored"
            );
            return Ok(());
        };
        let ChannelState::Opening { protocols } = &ch.state else {
            return Err(phys(
                drop_code::BAD_RESPONSE,
                format!("AddChannelResponse for channel {channel}, which is not being opened"),
            ));
        };
        let mut response = HandshakeResponse::parse(handshake, self.cfg.max_handshake_size)
            .map_err(|e| phys(drop_code::BAD_RESPONSE, format!("channel {channel}: {e}")))?;
        if encoding == HandshakeEncoding::Delta {
            response.headers = self.response_base.apply_delta(&response.headers);
        }
        if rejected {
            debug!(channel, status = response.status, "channel rejected");
            self.channels.remove(&channel);
            self.events
                .push_back((Event::ChannelRejected { channel, response }, None));
            return Ok(());
        }
        if response.status != 101 {
            return Err(phys(
                drop_code::BAD_RESPONSE,
                format!(
                    "channel {channel}: accepting AddChannelResponse with status {}",
                    response.status
                ),
            ));
        }
        let protocol = response
            .headers
            .get("sec-websocket-protocol")
            .map(str::to_owned);
        if let Some(p) = &protocol {
            if !protocols.contains(p) {
                self.fail_logical(
                    channel,
                    drop_code::LOGICAL_CHANNEL_FAILED,
                    format!("server chose subprotocol {p:?}, which was not offered"),
                );
                return Ok(());
            }
        }
        let Extensions::Client { negotiator, .. } = &self.extensions else {
            return Err(phys(
                drop_code::INVALID_MUX_CONTROL_BLOCK,
                "AddChannelResponse to a server",
            ));
        };
        let stack = extension_offers(&response.headers).and_then(|els| {
            if let Some(f) = els.iter().find(|e| is_frame_boundary(&e.name)) {
                return Err(format!("{} cannot run inside a logical channel", f.name));
            }
            negotiator.finish_elements(&els).map_err(|e| e.to_string())
        });
        let stack = match stack {
            Ok(s) => s,
            Err(e) => {
                self.fail_logical(channel, drop_code::LOGICAL_CHANNEL_FAILED, e);
                return Ok(());
            }
        };
        let extensions = stack.names().into_iter().map(str::to_owned).collect();
        if let Some(ch) = self.channels.get_mut(&channel) {
            ch.install(stack);
        }
        debug!(channel, "channel opened");
        self.events.push_back((
            Event::ChannelOpened {
                channel,
                protocol,
                extensions,
                response,
            },
            None,
        ));
        self.flush_deferred(channel);
        Ok(())
    }

    fn on_frame(&mut self, channel: ChannelId, frame: Frame) {
        let Some(ch) = self.channels.get_mut(&channel) else {
            trace!(channel, "frame for an inactive channel ignored");
            return;
        };
        let cost = quota::cost(&frame);
        if cost > ch.recv_quota {
            let have = ch.recv_quota;
            self.fail_logical(
                channel,
                drop_code::SEND_QUOTA_VIOLATION,
                format!("frame costs {cost} bytes of quota, only {have} granted"),
            );
            return;
        }
        ch.recv_quota -= cost;
        if ch.close_received {
            trace!(channel, "frame after Close ignored");
            ch.grant(cost);
            return;
        }
        match ch.reassembly.accept(frame) {
            Err(f) => self.fail_logical(channel, f.code, f.reason),
            // A control fragment: held in the reassembly buffer (at most
            // 125 bytes), so its quota goes back at once — a window smaller
            // than the whole control frame must not deadlock.
            Ok(None) => ch.grant(cost),
            Ok(Some(frame)) => {
                if ch.is_open() {
                    self.deliver(channel, frame, cost);
                } else {
                    ch.deferred.push_back((frame, cost));
                }
            }
        }
    }

    fn flush_deferred(&mut self, channel: ChannelId) {
        while let Some((frame, cost)) = self
            .channels
            .get_mut(&channel)
            .and_then(|c| c.deferred.pop_front())
        {
            self.deliver(channel, frame, cost);
        }
    }

    fn deliver(&mut self, channel: ChannelId, frame: Frame, cost: u64) {
        let max = self.cfg.max_message_size;
        let Some(ch) = self.channels.get_mut(&channel) else {
            return;
        };
        let data = frame.opcode.is_data();
        let budget = if data {
            max.saturating_sub(ch.message_bytes)
        } else {
            max
        };
        let frame = match ch.recv_stack.decode(frame, budget) {
            Ok(f) => f,
            Err(e) => {
                self.fail_logical(channel, drop_code::LOGICAL_CHANNEL_FAILED, e.to_string());
                return;
            }
        };
        if data {
            ch.message_bytes = if frame.fin {
                0
            } else {
                ch.message_bytes + frame.payload.len()
            };
        }
        let close = frame.opcode == OpCode::Close;
        if close {
            ch.close_received = true;
        }
        let finished = close && ch.close_sent;
        self.events
            .push_back((Event::Frame { channel, frame }, Some((channel, cost))));
        if finished {
            self.finish(channel);
        }
    }

    /// The closing handshake completed.
    fn finish(&mut self, channel: ChannelId) {
        if self.channels.remove(&channel).is_some() {
            debug!(channel, "channel closed");
            self.events
                .push_back((Event::ChannelClosed { channel }, None));
            self.channel_gone();
        }
    }

    /// Fail the Logical Channel: DropChannel(channel, code), forget it.
    fn fail_logical(&mut self, channel: ChannelId, code: u16, reason: String) {
        warn!(channel, code, %reason, "failing the logical channel");
        self.channels.remove(&channel);
        self.control.push(ControlBlock::DropChannel {
            channel,
            reason: Some(DropReason {
                code,
                message: reason.clone(),
            }),
        });
        self.events.push_back((
            Event::ChannelDropped {
                channel,
                code: Some(code),
                reason,
                by_peer: false,
            },
            None,
        ));
        self.channel_gone();
    }

    /// A channel ended (or a slot was used without one): the server may
    /// grant a new slot.
    fn channel_gone(&mut self) {
        if self.role != Role::Server || !self.cfg.replenish_slots {
            return;
        }
        let live = self.channels.len() as u64 + self.free_slots() + self.slots_to_grant;
        if live < u64::from(self.cfg.max_channels) {
            self.slots_to_grant += 1;
        }
    }

    // --------------------------------------------------------------- output

    /// The next event, if any. With `auto_release`, handing out a frame
    /// grants its quota back to the peer.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.poll_event_with_cost().map(|(event, _)| event)
    }

    /// Like [`MuxSession::poll_event`], also returning the quota an
    /// [`Event::Frame`] was worth on the wire (its cost before the channel's
    /// extensions were undone, which a decompressed frame no longer shows;
    /// 0 for other events). With `auto_release` off, pass it to
    /// [`MuxSession::release`] once the frame is consumed.
    pub fn poll_event_with_cost(&mut self) -> Option<(Event, u64)> {
        let (event, release) = self.events.pop_front()?;
        if let Event::QuotaAvailable { channel } = &event {
            self.quota_events.remove(channel);
        }
        let cost = release.map_or(0, |(_, n)| n);
        if let (Some((channel, n)), true) = (release, self.cfg.auto_release) {
            if let Some(ch) = self.channels.get_mut(&channel) {
                ch.grant(n);
            }
        }
        Some((event, cost))
    }

    /// Manual flow control (`auto_release = false`): the application has
    /// consumed `bytes` of quota worth of `channel`'s frames (payload length
    /// plus one per non-continuation frame, see [`quota::cost`]). Grants are
    /// capped at the receive window.
    pub fn release(&mut self, channel: ChannelId, bytes: u64) -> Result<(), MuxError> {
        self.check_running()?;
        let ch = self
            .channels
            .get_mut(&channel)
            .ok_or(MuxError::UnknownChannel(channel))?;
        ch.grant(bytes);
        Ok(())
    }

    /// The next payload to send as one binary message on the physical
    /// connection, or `None` when there is nothing (more) to send now.
    /// Control blocks go first (batched in one message), then one
    /// encapsulated frame per call, round-robin over the channels that have
    /// quota.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        if let Some(last) = &mut self.failed {
            return last.take();
        }
        for (&channel, ch) in self.channels.iter_mut() {
            if ch.to_grant > 0 {
                ch.recv_quota += ch.to_grant;
                self.control.push(ControlBlock::FlowControl {
                    channel,
                    quota: std::mem::take(&mut ch.to_grant),
                });
            }
        }
        if self.slots_to_grant > 0 {
            let slots = std::mem::take(&mut self.slots_to_grant);
            self.slots.push_back((slots, self.cfg.slot_quota));
            self.control.push(ControlBlock::NewChannelSlot {
                slots,
                quota: self.cfg.slot_quota,
                fallback: false,
            });
        }
        if !self.control.is_empty() {
            let blocks = std::mem::take(&mut self.control);
            match unit::encode_control(&blocks) {
                Ok(p) => return Some(p),
                Err(e) => error!(%e, "internal: control block not encodable; dropped"),
            }
        }
        let max = self.cfg.max_frame_payload;
        let ids: Vec<ChannelId> = self
            .channels
            .range(self.last_served.saturating_add(1)..)
            .chain(self.channels.range(..=self.last_served))
            .filter(|(_, c)| c.is_open())
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let Some(ch) = self.channels.get_mut(&id) else {
                continue;
            };
            let Some(frame) = ch.queue.next_fragment(&mut ch.send_quota, max) else {
                continue;
            };
            self.last_served = id;
            ch.close_sent = ch.queue.close_sent();
            let finished = ch.close_sent && ch.close_received;
            let payload = unit::encode_frame(id, &frame);
            if finished {
                self.finish(id);
            }
            match payload {
                Ok(p) => return Some(p),
                Err(e) => error!(%e, "internal: frame not encodable; dropped"),
            }
        }
        None
    }

    // ---------------------------------------------------------- application

    fn check_running(&self) -> Result<(), MuxError> {
        if self.failed.is_some() {
            Err(MuxError::SessionFailed)
        } else {
            Ok(())
        }
    }

    /// Client: open a logical channel. Uses one slot; the channel's send
    /// quota is that slot's. Queues the AddChannelRequest (delta-encoded
    /// while no identity request was sent, if `delta_requests`) and a
    /// FlowControl granting `receive_window`. Wait for
    /// [`Event::ChannelOpened`] (or `ChannelRejected` / `ChannelDropped`)
    /// before sending on it.
    pub fn open_channel(&mut self, request: ChannelRequest) -> Result<ChannelId, MuxError> {
        self.check_running()?;
        if self.role != Role::Client {
            return Err(MuxError::WrongRole("opening a channel"));
        }
        if self.fallback {
            return Err(MuxError::Fallback);
        }
        if self.channels.len() >= self.cfg.max_channels as usize {
            return Err(MuxError::TooManyChannels(self.cfg.max_channels));
        }
        if request.path.is_empty() || !request.path.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(MuxError::InvalidArgument(format!(
                "request path {:?} must be visible ASCII without spaces",
                request.path
            )));
        }
        for (n, v) in request.headers.iter() {
            if n.is_empty()
                || !n.bytes().all(ws_ext_core::header::is_tchar)
                || v.bytes().any(|b| b.is_ascii_control() && b != b'\t')
            {
                return Err(MuxError::InvalidArgument(format!("bad header {n:?}")));
            }
        }
        let id = self.allocate_id()?;
        let slot_quota = self.take_slot().ok_or(MuxError::NoChannelSlot)?;
        let Extensions::Client { offer, .. } = &self.extensions else {
            return Err(MuxError::WrongRole("opening a channel"));
        };
        let mut headers = self.request_base.clone();
        for (n, v) in request.headers.iter() {
            headers.set(n, Some(v.to_owned()));
        }
        headers.set(
            "Sec-WebSocket-Protocol",
            (!request.protocols.is_empty()).then(|| request.protocols.join(", ")),
        );
        headers.set(
            "Sec-WebSocket-Extensions",
            if request.plain { None } else { offer.clone() },
        );
        let delta = self.cfg.delta_requests && !self.sent_identity;
        let (encoding, sent_headers) = if delta {
            (
                HandshakeEncoding::Delta,
                headers.delta_from(&self.request_base),
            )
        } else {
            self.sent_identity = true;
            (HandshakeEncoding::Identity, headers)
        };
        let text = HandshakeRequest::get(request.path, sent_headers).to_text();
        let window = self.cfg.receive_window;
        self.control.push(ControlBlock::AddChannelRequest {
            channel: id,
            encoding,
            handshake: Bytes::from(text),
        });
        self.control.push(ControlBlock::FlowControl {
            channel: id,
            quota: window,
        });
        self.channels.insert(
            id,
            Channel::new(
                ChannelState::Opening {
                    protocols: request.protocols,
                },
                slot_quota,
                window,
                window,
            ),
        );
        debug!(channel = id, "opening channel");
        Ok(id)
    }

    fn allocate_id(&mut self) -> Result<ChannelId, MuxError> {
        for _ in 0..=self.channels.len() {
            let id = self.next_id;
            self.next_id = if id >= MAX_CHANNEL_ID { 2 } else { id + 1 };
            if !self.channels.contains_key(&id) {
                return Ok(id);
            }
        }
        Err(MuxError::ChannelIdsExhausted)
    }

    /// Server: accept a requested channel, choosing `protocol` (one the
    /// client offered, or `None`) and adding `headers` to the response. Its
    /// extensions are those listed in [`Event::ChannelOpenRequested`].
    /// Frames the client sent meanwhile are delivered now.
    pub fn accept_channel(
        &mut self,
        channel: ChannelId,
        protocol: Option<&str>,
        headers: Headers,
    ) -> Result<(), MuxError> {
        self.check_running()?;
        let ch = self
            .channels
            .get_mut(&channel)
            .ok_or(MuxError::UnknownChannel(channel))?;
        let ChannelState::Pending { protocols, .. } = &ch.state else {
            return Err(MuxError::BadState {
                channel,
                reason: "not waiting to be accepted".into(),
            });
        };
        if let Some(p) = protocol {
            if !protocols.iter().any(|o| o == p) {
                return Err(MuxError::InvalidArgument(format!(
                    "subprotocol {p:?} was not offered"
                )));
            }
        }
        let ChannelState::Pending { stack, .. } =
            std::mem::replace(&mut ch.state, ChannelState::Open)
        else {
            return Err(MuxError::BadState {
                channel,
                reason: "not waiting to be accepted".into(),
            });
        };
        let mut h = Headers::new().with("Connection", "Upgrade");
        if let Some(p) = protocol {
            h.append("Sec-WebSocket-Protocol", p);
        }
        if let Some(e) = stack.response_header() {
            h.append("Sec-WebSocket-Extensions", e);
        }
        for (n, v) in headers.iter() {
            h.append(n, v);
        }
        ch.install(stack);
        let response = HandshakeResponse {
            status: 101,
            reason: "Switching Protocols".into(),
            headers: h,
        };
        self.control.push(ControlBlock::AddChannelResponse {
            channel,
            rejected: false,
            encoding: HandshakeEncoding::Identity,
            handshake: Bytes::from(response.to_text()),
        });
        debug!(channel, "channel accepted");
        self.flush_deferred(channel);
        Ok(())
    }

    /// Server: refuse a requested channel with an HTTP `status` (4xx/5xx).
    pub fn reject_channel(&mut self, channel: ChannelId, status: u16) -> Result<(), MuxError> {
        self.check_running()?;
        match self.channels.get(&channel) {
            Some(Channel {
                state: ChannelState::Pending { .. },
                ..
            }) => {}
            Some(_) => {
                return Err(MuxError::BadState {
                    channel,
                    reason: "not waiting to be accepted".into(),
                })
            }
            None => return Err(MuxError::UnknownChannel(channel)),
        }
        if !(400..=599).contains(&status) {
            return Err(MuxError::InvalidArgument(format!(
                "status {status} is not an HTTP error"
            )));
        }
        self.channels.remove(&channel);
        self.refuse(channel, status, "rejected by the application");
        Ok(())
    }

    /// Queue one logical frame on an open channel. The channel's extensions
    /// encode it now (so RSV bits must be clear); it leaves as quota allows,
    /// split if needed. Control frames: at most 125 bytes, FIN set; they go
    /// ahead of queued data.
    pub fn send_frame(&mut self, channel: ChannelId, frame: Frame) -> Result<(), MuxError> {
        self.check_running()?;
        let limit = self.cfg.max_send_buffer;
        let ch = self
            .channels
            .get_mut(&channel)
            .ok_or(MuxError::UnknownChannel(channel))?;
        if !ch.is_open() {
            return Err(MuxError::BadState {
                channel,
                reason: "not open yet".into(),
            });
        }
        let invalid = |reason: &str| MuxError::InvalidFrame {
            channel,
            reason: reason.into(),
        };
        if ch.close_queued {
            return Err(invalid("Close already sent"));
        }
        if frame.rsv != RsvBits::NONE {
            return Err(invalid("RSV bits belong to the channel's extensions"));
        }
        match frame.opcode {
            OpCode::Reserved(_) => return Err(invalid("reserved opcode")),
            op if op.is_control() => {
                if !frame.fin || frame.payload.len() > 125 {
                    return Err(invalid(
                        "control frames are unfragmented and at most 125 bytes",
                    ));
                }
            }
            OpCode::Continuation if !ch.app_message_open => {
                return Err(invalid("continuation frame with no message open"))
            }
            OpCode::Text | OpCode::Binary if ch.app_message_open => {
                return Err(invalid("new message while a fragmented one is open"))
            }
            _ => {
                if ch.queue.bytes() + frame.payload.len() > limit {
                    return Err(MuxError::SendBufferFull { channel, limit });
                }
            }
        }
        let opcode = frame.opcode;
        let fin = frame.fin;
        let encoded = match ch.send_stack.encode(frame) {
            Ok(f) => f,
            Err(source) => {
                self.fail_logical(
                    channel,
                    drop_code::LOGICAL_CHANNEL_FAILED,
                    source.to_string(),
                );
                return Err(MuxError::Extension { channel, source });
            }
        };
        if opcode.is_data() {
            ch.app_message_open = !fin;
        }
        if opcode == OpCode::Close {
            ch.close_queued = true;
        }
        ch.queue.push(encoded);
        Ok(())
    }

    /// Queue a whole message (one frame with FIN).
    pub fn send_message(
        &mut self,
        channel: ChannelId,
        opcode: OpCode,
        payload: impl Into<Bytes>,
    ) -> Result<(), MuxError> {
        self.send_frame(channel, Frame::new(true, opcode, payload))
    }

    /// Queue a Close frame (RFC 6455 closing handshake inside the channel).
    /// The channel ends once Close went both ways ([`Event::ChannelClosed`]).
    pub fn close_channel(
        &mut self,
        channel: ChannelId,
        code: u16,
        reason: &str,
    ) -> Result<(), MuxError> {
        if reason.len() > 123 {
            return Err(MuxError::InvalidArgument(
                "close reason longer than 123 bytes".into(),
            ));
        }
        let mut p = BytesMut::with_capacity(2 + reason.len());
        p.put_u16(code);
        p.put_slice(reason.as_bytes());
        self.send_frame(channel, Frame::new(true, OpCode::Close, p.freeze()))
    }

    /// Drop a channel now: DropChannel(`channel`, `code`, `reason`); queued
    /// frames are discarded. The peer answers with a DropChannel ACK (3008),
    /// which is absorbed.
    pub fn drop_channel(
        &mut self,
        channel: ChannelId,
        code: u16,
        reason: &str,
    ) -> Result<(), MuxError> {
        self.check_running()?;
        if channel == 0 {
            return Err(MuxError::InvalidArgument(
                "channel 0: use fail_physical".into(),
            ));
        }
        self.channels
            .remove(&channel)
            .ok_or(MuxError::UnknownChannel(channel))?;
        debug!(channel, code, reason, "dropping channel");
        self.control.push(ControlBlock::DropChannel {
            channel,
            reason: Some(DropReason {
                code,
                message: reason.to_owned(),
            }),
        });
        self.channel_gone();
        Ok(())
    }
}
