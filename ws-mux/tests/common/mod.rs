//! Test harness: a toy stateful per-message extension and an in-memory
//! client/server pair negotiated through the real physical negotiation.
#![allow(dead_code)]

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use ws_ext_core::header::ExtensionElement;
use ws_ext_core::{
    ClientExtensionFactory, ClientNegotiator, Decoder, Encoder, Extension, ExtensionError, Frame,
    NegotiationError, OpCode, RsvBits, ServerContext, ServerExtensionFactory, ServerNegotiator,
};
use ws_mux::{
    client_offer_header, finish_client, negotiate_server, ChannelId, Event, Headers,
    MuxClientFactory, MuxConfig, MuxServerFactory, MuxSession,
};

/// `x-chain`: a per-message, context-keeping transform on RSV1. Each byte
/// is XORed with a keystream that continues across messages (like deflate
/// context takeover), so a receiver whose context is shared with another
/// channel, or that sees frames out of order, decodes garbage. RSV1 on the
/// first frame of each transformed message; a continuation with RSV1 is a
/// protocol error (as in permessage-deflate).
pub const CHAIN: &str = "x-chain";

#[derive(Default)]
struct ChainState {
    pos: u64,
    in_message: bool,
}

fn key(pos: u64) -> u8 {
    (pos.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8 ^ 0x5a
}

impl ChainState {
    fn apply(&mut self, payload: &[u8]) -> Bytes {
        let mut out = BytesMut::with_capacity(payload.len());
        for b in payload {
            out.extend_from_slice(&[b ^ key(self.pos)]);
            self.pos += 1;
        }
        out.freeze()
    }
}

impl Encoder for ChainState {
    fn encode(&mut self, mut frame: Frame) -> Result<Frame, ExtensionError> {
        if frame.opcode.is_control() {
            return Ok(frame);
        }
        if frame.opcode.starts_message() {
            frame.rsv |= RsvBits::RSV1;
        }
        frame.payload = self.apply(&frame.payload);
        Ok(frame)
    }
}

impl Decoder for ChainState {
    fn decode(&mut self, mut frame: Frame, _budget: usize) -> Result<Frame, ExtensionError> {
        if frame.opcode.is_control() {
            if frame.rsv.contains(RsvBits::RSV1) {
                return Err(ExtensionError::protocol(CHAIN, "RSV1 on a control frame"));
            }
            return Ok(frame);
        }
        if frame.opcode.starts_message() {
            self.in_message = frame.rsv.contains(RsvBits::RSV1);
            if !self.in_message {
                return Err(ExtensionError::protocol(CHAIN, "message without RSV1"));
            }
        } else if frame.rsv.contains(RsvBits::RSV1) {
            return Err(ExtensionError::protocol(CHAIN, "RSV1 on a continuation"));
        }
        frame.rsv = RsvBits::NONE;
        frame.payload = self.apply(&frame.payload);
        Ok(frame)
    }
}

struct ChainExt;
impl Extension for ChainExt {
    fn name(&self) -> &str {
        CHAIN
    }
    fn rsv_bits(&self) -> RsvBits {
        RsvBits::RSV1
    }
    fn response(&self) -> ExtensionElement {
        ExtensionElement::new(CHAIN)
    }
    fn split(self: Box<Self>) -> (Box<dyn Encoder>, Box<dyn Decoder>) {
        (
            Box::new(ChainState::default()),
            Box::new(ChainState::default()),
        )
    }
}

/// Both factories of `x-chain`.
#[derive(Clone, Copy)]
pub struct Chain;
impl ServerExtensionFactory for Chain {
    fn handles(&self, name: &str) -> bool {
        name == CHAIN
    }
    fn accept(
        &self,
        _: &ExtensionElement,
        _: &ServerContext<'_>,
    ) -> Result<Option<Box<dyn Extension>>, NegotiationError> {
        Ok(Some(Box::new(ChainExt)))
    }
}
impl ClientExtensionFactory for Chain {
    fn handles(&self, name: &str) -> bool {
        name == CHAIN
    }
    fn offers(&self) -> Vec<ExtensionElement> {
        vec![ExtensionElement::new(CHAIN)]
    }
    fn accept(&self, _: &ExtensionElement) -> Result<Box<dyn Extension>, NegotiationError> {
        Ok(Box::new(ChainExt))
    }
}

/// An in-memory client and server over one "physical connection".
pub struct Pair {
    pub client: MuxSession,
    pub server: MuxSession,
    /// Events seen by the client, in order.
    pub cev: Vec<Event>,
    /// Events seen by the server, in order.
    pub sev: Vec<Event>,
    /// Server accepts every channel request.
    pub auto_accept: bool,
    /// Physical messages moved, per direction (client→server, server→client).
    pub moved: (usize, usize),
}

/// Negotiate the physical connection like an engine would (offer header,
/// server negotiation, response validation) and build both sessions.
/// `client_ext`/`server_ext`: per-channel extensions.
pub fn pair(
    ccfg: MuxConfig,
    scfg: MuxConfig,
    client_ext: Vec<Arc<dyn ClientExtensionFactory>>,
    server_ext: ServerNegotiator,
    quota: Option<u32>,
) -> Pair {
    let mux_c = MuxClientFactory::new("mux", quota);
    let offer = client_offer_header(&ClientNegotiator::new(), &mux_c, &client_ext);
    let request = Headers::new()
        .with("Host", "example.test")
        .with("Upgrade", "websocket")
        .with("Connection", "Upgrade")
        .with("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        .with("Sec-WebSocket-Version", "13")
        .with("Origin", "http://example.test")
        .with("Sec-WebSocket-Extensions", offer.clone());
    let sn = negotiate_server(
        [offer.as_bytes()],
        &ServerNegotiator::new(),
        &MuxServerFactory::new("mux"),
        &server_ext,
    )
    .expect("server negotiation");
    let resp_header = sn.response_header.clone().expect("a response header");
    let cn = finish_client(
        [resp_header.as_bytes()],
        &ClientNegotiator::new(),
        &mux_c,
        &client_ext,
    )
    .expect("client validation");
    let response = Headers::new()
        .with("Upgrade", "websocket")
        .with("Connection", "Upgrade")
        .with("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        .with("Sec-WebSocket-Extensions", resp_header);
    let server = MuxSession::server(
        scfg,
        server_ext,
        sn.mux.as_ref().expect("mux agreed"),
        &request,
        sn.channel1,
    );
    let client = MuxSession::client(
        ccfg,
        client_ext,
        cn.mux.as_ref().expect("mux agreed"),
        &request,
        &response,
        cn.channel1,
    );
    Pair {
        client,
        server,
        cev: Vec::new(),
        sev: Vec::new(),
        auto_accept: true,
        moved: (0, 0),
    }
}

/// A plain pair: no per-channel extensions.
pub fn plain(ccfg: MuxConfig, scfg: MuxConfig) -> Pair {
    pair(ccfg, scfg, vec![], ServerNegotiator::new(), Some(8192))
}

impl Pair {
    /// Drain both sides' events (the server accepts requests if
    /// `auto_accept`).
    pub fn drain(&mut self) {
        while let Some(e) = self.client.poll_event() {
            self.cev.push(e);
        }
        while let Some(e) = self.server.poll_event() {
            if let (true, Event::ChannelOpenRequested { channel, .. }) = (self.auto_accept, &e) {
                self.server
                    .accept_channel(*channel, None, Headers::new())
                    .expect("accept");
            }
            self.sev.push(e);
        }
    }

    /// Move at most `n` physical messages each way, then drain events.
    /// Returns whether anything moved.
    pub fn step(&mut self, n: usize) -> bool {
        let mut any = false;
        for _ in 0..n {
            let Some(p) = self.client.poll_transmit() else {
                break;
            };
            self.server.receive_physical(p).expect("server receive");
            self.moved.0 += 1;
            any = true;
        }
        for _ in 0..n {
            let Some(p) = self.server.poll_transmit() else {
                break;
            };
            self.client.receive_physical(p).expect("client receive");
            self.moved.1 += 1;
            any = true;
        }
        self.drain();
        any
    }

    /// Step until nothing moves.
    pub fn run(&mut self) {
        self.drain();
        for _ in 0..1_000_000 {
            if !self.step(usize::MAX) {
                return;
            }
        }
        panic!("pair did not settle");
    }

    /// Frames the server got on `channel`, in order.
    pub fn server_frames(&self, channel: ChannelId) -> Vec<Frame> {
        frames(&self.sev, channel)
    }

    /// Frames the client got on `channel`, in order.
    pub fn client_frames(&self, channel: ChannelId) -> Vec<Frame> {
        frames(&self.cev, channel)
    }

    /// Open a channel from the client and run until it is open.
    pub fn open(&mut self, path: &str) -> ChannelId {
        let id = self
            .client
            .open_channel(ws_mux::ChannelRequest::new(path))
            .expect("open");
        self.run();
        assert!(
            self.client.is_open(id),
            "channel {id} did not open: {:?}",
            self.cev
        );
        id
    }
}

/// Frames on `channel` among `events`.
pub fn frames(events: &[Event], channel: ChannelId) -> Vec<Frame> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Frame { channel: c, frame } if *c == channel => Some(frame.clone()),
            _ => None,
        })
        .collect()
}

/// Reassemble data messages (opcode, payload) from frames; control frames
/// are returned separately.
pub fn messages(frames: &[Frame]) -> (Vec<(OpCode, Vec<u8>)>, Vec<Frame>) {
    let mut out = Vec::new();
    let mut control = Vec::new();
    let mut cur: Option<(OpCode, Vec<u8>)> = None;
    for f in frames {
        if f.opcode.is_control() {
            control.push(f.clone());
            continue;
        }
        match f.opcode {
            OpCode::Continuation => {
                let (_, buf) = cur.as_mut().expect("continuation without message");
                buf.extend_from_slice(&f.payload);
            }
            op => {
                assert!(cur.is_none(), "new message inside a message");
                cur = Some((op, f.payload.to_vec()));
            }
        }
        if f.fin {
            out.push(cur.take().expect("message"));
        }
    }
    assert!(cur.is_none(), "unfinished message");
    (out, control)
}

/// A small deterministic PRNG (xorshift64*).
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0.max(1);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}
