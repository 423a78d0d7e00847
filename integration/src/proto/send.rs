//! The send side of the engine: messages to frames, through the extension
//! stack, into an [`OutBuf`].

use bytes::Bytes;
use tracing::trace;
use tungstenite::Message;
use ws_ext_core::{EncodingKey, Frame, OpCode, SendStack};

use crate::error::Error;
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
}

impl Sender {
    /// A sender for `role` with the negotiated extensions' send half.
    pub fn new(role: Role, stack: SendStack) -> Self {
        Sender {
            role,
            stack,
            shared_key: None,
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
    /// now if no connection with that key encoded it yet), or, when we
    /// cannot share, the message encoded the ordinary way. `true` when
    /// the shared frame was used.
    pub fn encode_prepared(
        &mut self,
        msg: &PreparedMessage,
        out: &mut OutBuf,
    ) -> Result<bool, Error> {
        if self.shared_key.is_none() {
            self.shared_key = Some(self.compute_key());
        }
        let Some(Some(key)) = &self.shared_key else {
            msg.note_fallback();
            self.encode_message(msg.message().clone(), out)?;
            return Ok(false);
        };
        let wire = msg.shared_frame(key, &mut self.stack)?;
        trace!(len = wire.len(), "shared frame out");
        if out.by_reference(wire.len()) {
            out.push_bytes(wire);
        } else {
            out.tail_mut().extend_from_slice(&wire);
            out.commit(wire.len());
        }
        Ok(true)
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
