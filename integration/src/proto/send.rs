//! The send side of the engine: messages to frames, through the extension
//! stack, into an [`OutBuf`].

use std::sync::Arc;

use bytes::Bytes;
use tracing::trace;
use tungstenite::Message;
use ws_ext_core::{EncodingKey, Frame, OpCode, SendStack};

use crate::error::Error;
use crate::proto::cohort::{CohortPos, Seat};
pub use crate::proto::frame::encode_raw;
use crate::proto::frame::{FrameHeader, MAX_HEADER_LEN};
use crate::proto::mask::apply_mask;
use crate::proto::outbuf::OutBuf;
use crate::proto::prepared::PreparedMessage;
use crate::proto::{close, Role};

/// Encodes outgoing messages. A client masks every frame with a fresh
/// random key; a server never masks.
#[derive(Debug)]
pub struct Sender {
    role: Role,
    stack: SendStack,
    /// The key under which prepared messages are shared, worked out on
    /// the first one (`None` until then, so connections that never send
    /// one hold nothing for it); the inner `None`: cannot share.
    shared_key: Option<Option<EncodingKey>>,
    /// Broadcast cohorts (`proto::cohort`).
    cohort: CohortState,
}

/// A sender's place in broadcast cohorts.
#[derive(Debug, Default)]
struct CohortState {
    /// Our cohort key, worked out on the first prepared message; the
    /// inner `None`: cannot be in a cohort.
    key: Option<Option<EncodingKey>>,
    /// The cohort whose frames we write, and the next one's number.
    pos: Option<CohortPos>,
    /// Our group's view of our cohort, told when we join or leave.
    seat: Option<Arc<Seat>>,
}

impl Sender {
    /// A sender for `role` with the negotiated extensions' send half.
    pub fn new(role: Role, stack: SendStack) -> Self {
        Sender {
            role,
            stack,
            shared_key: None,
            cohort: CohortState::default(),
        }
    }

    /// The key under which this sender shares prepared messages
    /// ([`PreparedMessage`]): `Some` for a server whose extensions keep no
    /// state across messages (fixed once negotiated), `None` otherwise.
    pub fn shared_key(&self) -> Option<EncodingKey> {
        match &self.shared_key {
            Some(k) => k.clone(),
            None => self.compute_key(),
        }
    }

    fn compute_key(&self) -> Option<EncodingKey> {
        match self.role {
            Role::Server => self.stack.encoding_key(),
            // A client masks every frame with its own key: nothing to share.
            Role::Client => None,
        }
    }

    /// Queue a prepared message: its shared frame for our key (encoded
    /// now if no connection with that key encoded it yet), or the frame a
    /// broadcast cohort we may follow wrote for it (see
    /// [`crate::broadcast`], "Cohorts"), or else the message encoded the
    /// ordinary way. `true` when a shared or cohort frame was used.
    pub fn encode_prepared(
        &mut self,
        msg: &PreparedMessage,
        out: &mut OutBuf,
    ) -> Result<bool, Error> {
        if self.shared_key.is_none() {
            self.shared_key = Some(self.compute_key());
        }
        let wire = match &self.shared_key {
            Some(Some(key)) => Some(msg.shared_frame(key, &mut self.stack)?),
            _ => self.cohort_frame(msg),
        };
        let Some(wire) = wire else {
            msg.note_fallback();
            // Leaves our cohort, if any (`encode_frame`).
            self.encode_message(msg.message().clone(), out)?;
            return Ok(false);
        };
        trace!(len = wire.len(), "shared frame out");
        if out.by_reference(wire.len()) {
            out.push_bytes(wire);
        } else {
            out.tail_mut().extend_from_slice(&wire);
            out.commit(wire.len());
        }
        Ok(true)
    }

    /// What a broadcast group needs to serve this connection from a
    /// cohort: our cohort key and a fresh send stack like ours (`None`:
    /// we cannot be in one: a client, a stack that shares whole frames
    /// instead, or extensions without cohorts). Remembers `seat`, the
    /// group's view of our cohort, to keep it up to date.
    pub(crate) fn cohort_ticket(&mut self, seat: Arc<Seat>) -> Option<(EncodingKey, SendStack)> {
        if self.role != Role::Server || self.shared_key().is_some() {
            return None;
        }
        let key = self.stack.cohort_key()?;
        let fresh = self.stack.fresh()?;
        if let Some(pos) = self.cohort.pos {
            seat.set(pos.cohort);
        }
        self.cohort.seat = Some(seat);
        Some((key, fresh))
    }

    /// The cohort frame of `msg` we may write, if any; joins or follows
    /// its cohort.
    fn cohort_frame(&mut self, msg: &PreparedMessage) -> Option<Bytes> {
        if self.cohort.key.is_none() {
            self.cohort.key = Some(match self.role {
                Role::Server => self.stack.cohort_key(),
                Role::Client => None,
            });
        }
        let Some(Some(key)) = &self.cohort.key else {
            return None;
        };
        let (cohort, seq, wire) = msg.cohort_frame(key, self.cohort.pos)?;
        let follows = self
            .cohort
            .pos
            .is_some_and(|p| p.cohort == cohort && p.next == seq);
        if !follows {
            // Joining at a cohort's first frame: our own encoder's history
            // is no longer the peer's, and it is not used while we follow.
            self.stack.reset();
            trace!(cohort, "joined a broadcast cohort");
        }
        self.cohort.pos = Some(CohortPos {
            cohort,
            next: seq + 1,
        });
        if let Some(seat) = &self.cohort.seat {
            if seat.get() != cohort {
                seat.set(cohort);
            }
        }
        Some(wire)
    }

    /// Stop following a cohort: the peer gets a data frame of ours. Our
    /// encoder has had no history since we joined, so its output is valid.
    fn leave_cohort(&mut self) {
        if let Some(pos) = self.cohort.pos.take() {
            trace!(cohort = pos.cohort, "left the broadcast cohort");
            if let Some(seat) = &self.cohort.seat {
                seat.leave(pos.cohort);
            }
        }
    }

    /// Let the extensions release rebuildable state (the connection is
    /// quiet; every message is encoded whole, so this is always between
    /// messages).
    pub fn hibernate(&mut self) {
        self.stack.hibernate();
    }

    /// Encode one message as one frame (control payloads must be ≤ 125
    /// bytes; close codes must be valid on the wire).
    pub fn encode_message(&mut self, msg: Message, out: &mut OutBuf) -> Result<(), Error> {
        let (opcode, payload) = match msg {
            Message::Text(t) => (OpCode::Text, Bytes::from(t)),
            Message::Binary(b) => (OpCode::Binary, b),
            Message::Ping(p) => (OpCode::Ping, p),
            Message::Pong(p) => (OpCode::Pong, p),
            Message::Close(c) => {
                if let Some(f) = &c {
                    let code = u16::from(f.code);
                    if !close::is_valid_code(code) {
                        return Err(Error::InvalidMessage(format!(
                            "close code {code} may not be sent"
                        )));
                    }
                }
                (OpCode::Close, close::encode(c.as_ref()))
            }
            Message::Frame(f) => {
                return Err(Error::InvalidMessage(format!(
                    "raw frames cannot be sent through wsx ({} bytes)",
                    f.len()
                )))
            }
        };
        if opcode.is_control() && payload.len() > 125 {
            return Err(Error::InvalidMessage(format!(
                "control frame payload of {} bytes exceeds 125",
                payload.len()
            )));
        }
        self.encode_frame(Frame::new(true, opcode, payload), out)
    }

    /// Pass a frame through the extensions and queue it.
    pub fn encode_frame(&mut self, frame: Frame, out: &mut OutBuf) -> Result<(), Error> {
        if frame.opcode.is_data() {
            self.leave_cohort();
        }
        let frame = if self.stack.is_empty() {
            frame
        } else {
            self.stack.encode(frame).map_err(Error::Encode)?
        };
        trace!(opcode = ?frame.opcode, len = frame.payload.len(), "frame out");
        let mask = match self.role {
            Role::Client => Some(rand::random::<[u8; 4]>()),
            Role::Server => None,
        };
        let header = FrameHeader {
            fin: frame.fin,
            rsv: frame.rsv,
            opcode: frame.opcode,
            mask,
            payload_len: frame.payload.len() as u64,
        };
        if mask.is_none() && out.by_reference(frame.payload.len()) {
            if out.is_empty() {
                // The header as a chunk of its own: no write buffer.
                let mut h = [0u8; MAX_HEADER_LEN];
                let n = header.encode(&mut h);
                out.push_bytes(Bytes::copy_from_slice(&h[..n]));
            } else {
                let tail = out.tail_mut();
                let before = tail.len();
                header.write(tail);
                let n = tail.len() - before;
                out.commit(n);
            }
            out.push_bytes(frame.payload);
            return Ok(());
        }
        let tail = out.tail_mut();
        // One allocation for the header and the payload.
        tail.reserve(MAX_HEADER_LEN + frame.payload.len());
        let before = tail.len();
        header.write(tail);
        let start = tail.len();
        tail.extend_from_slice(&frame.payload);
        if let Some(m) = mask {
            apply_mask(&mut tail[start..], m);
        }
        let n = tail.len() - before;
        out.commit(n);
        Ok(())
    }
}
