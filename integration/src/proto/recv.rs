//! The receive side of the engine: frames out of a read buffer, messages out
//! of frames. Sans-I/O: the caller fills a [`BytesMut`] and calls
//! [`Receiver::read`].

use bytes::{Buf, Bytes, BytesMut};
use tracing::trace;
use tungstenite::{Message, Utf8Bytes};
use ws_ext_core::{Frame, OpCode, RecvStack};

use crate::error::ProtocolError;
use crate::proto::frame::FrameHeader;
use crate::proto::mask::apply_mask;
use crate::proto::utf8::Utf8Validator;
use crate::proto::{close, Role};

/// What one call to [`Receiver::read`] produced.
#[derive(Debug)]
pub enum Read {
    /// The buffer holds no complete frame yet; at least this many more bytes
    /// are needed for progress (a hint for how much to read).
    NeedMore(usize),
    /// A complete message or control frame. A received close frame is
    /// `Message::Close`, already validated.
    Message(Message),
}

/// A data message being reassembled.
#[derive(Debug)]
struct Partial {
    text: bool,
    first: Option<Bytes>,
    rest: BytesMut,
    len: usize,
}

/// Turns bytes into validated messages: framing rules, masking, RSV bits
/// and extension decoding, fragmentation, control frames, size limits and
/// streaming UTF-8 validation (after decoding).
#[derive(Debug)]
pub struct Receiver {
    role: Role,
    stack: RecvStack,
    max_frame: usize,
    max_message: usize,
    header: Option<(FrameHeader, usize)>,
    partial: Option<Partial>,
    utf8: Utf8Validator,
    /// No extension is active: payloads reach the application unchanged, so
    /// text can be validated while a frame is still arriving.
    early_utf8: bool,
    /// Payload bytes of the current (incomplete) frame already unmasked in
    /// the buffer and fed to the UTF-8 validator.
    validated: usize,
    /// A frame was rejected on its header: where the next frame starts is
    /// unknown (or not worth waiting for).
    desynced: bool,
}

impl Receiver {
    /// A receiver for one end (`role` is *our* role: a server expects masked
    /// frames), with the negotiated extensions' receive half.
    pub fn new(role: Role, stack: RecvStack, max_frame: usize, max_message: usize) -> Self {
        Receiver {
            role,
            stack,
            max_frame,
            max_message,
            header: None,
            partial: None,
            utf8: Utf8Validator::new(),
            early_utf8: false,
            validated: 0,
            desynced: false,
        }
    }

    /// Let the extensions release rebuildable state (the connection is
    /// quiet). Does nothing while a fragmented message is open.
    pub fn hibernate(&mut self) {
        if self.partial.is_none() {
            self.stack.hibernate();
        }
    }

    /// Whether the last error was raised on a frame header, before its
    /// payload was read: the byte stream can no longer be followed.
    pub fn is_desynced(&self) -> bool {
        self.desynced
    }

    /// Validate text while a frame is still arriving (fail fast on a bad
    /// prefix of a long frame). Only correct when no extension is active,
    /// since the payload is checked before it reaches the extension stack.
    pub fn set_early_utf8(&mut self, on: bool) {
        self.early_utf8 = on;
    }

    fn is_text_frame(&self, h: &FrameHeader) -> bool {
        match h.opcode {
            OpCode::Text => true,
            OpCode::Continuation => self.partial.as_ref().is_some_and(|p| p.text),
            _ => false,
        }
    }

    /// Whether a fragmented data message is in progress.
    pub fn in_message(&self) -> bool {
        self.partial.is_some()
    }

    fn check_header(&self, h: &FrameHeader) -> Result<(), ProtocolError> {
        match (self.role, h.mask.is_some()) {
            (Role::Server, false) => return Err(ProtocolError::UnmaskedFrame),
            (Role::Client, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        match h.opcode {
            OpCode::Reserved(op) => return Err(ProtocolError::ReservedOpcode(op)),
            OpCode::Continuation if self.partial.is_none() => {
                return Err(ProtocolError::UnexpectedContinuation)
            }
            OpCode::Text | OpCode::Binary if self.partial.is_some() => {
                return Err(ProtocolError::ExpectedContinuation)
            }
            _ => {}
        }
        self.stack.check_rsv(h.rsv)?;
        if h.payload_len > self.max_frame as u64 {
            return Err(ProtocolError::FrameTooBig {
                size: h.payload_len,
                limit: self.max_frame,
            });
        }
        if h.opcode.is_data() && self.stack.allowed_rsv().is_empty() {
            // No extension can change the size: reject before buffering.
            let so_far = self.partial.as_ref().map_or(0, |p| p.len) as u64;
            if so_far + h.payload_len > self.max_message as u64 {
                return Err(ProtocolError::MessageTooBig {
                    limit: self.max_message,
                });
            }
        }
        Ok(())
    }

    /// Parse as much of `buf` as makes one message or control frame.
    /// Consumed bytes are split off `buf` (payloads are not copied).
    pub fn read(&mut self, buf: &mut BytesMut) -> Result<Read, ProtocolError> {
        loop {
            let (header, header_len) = match self.header {
                Some(h) => h,
                None => match FrameHeader::parse(buf).inspect_err(|_| self.desynced = true)? {
                    None => return Ok(Read::NeedMore(2.max(buf.len() + 1) - buf.len())),
                    Some((h, n)) => {
                        self.check_header(&h)
                            .inspect_err(|_| self.desynced = true)?;
                        self.header = Some((h, n));
                        (h, n)
                    }
                },
            };
            // The frame limit bounds payload_len, so it fits usize.
            let total = header_len + header.payload_len as usize;
            if buf.len() < total {
                if self.early_utf8 && self.is_text_frame(&header) {
                    let end = buf.len() - header_len;
                    let part = &mut buf[header_len + self.validated..];
                    if let Some(m) = header.mask {
                        apply_mask(part, rotate(m, self.validated));
                    }
                    self.utf8
                        .feed(part)
                        .map_err(|_| ProtocolError::InvalidUtf8)?;
                    self.validated = end;
                }
                return Ok(Read::NeedMore(total - buf.len()));
            }
            self.header = None;
            let validated = std::mem::take(&mut self.validated);
            buf.advance(header_len);
            let mut payload = if buf.len() == header.payload_len as usize {
                // The frame ends the buffer: take it whole, so the buffer
                // (and its allocation) goes with the message and the reader
                // is left holding nothing.
                std::mem::take(buf)
            } else {
                buf.split_to(header.payload_len as usize)
            };
            if let Some(m) = header.mask {
                apply_mask(&mut payload[validated..], rotate(m, validated));
            }
            let frame = Frame {
                fin: header.fin,
                rsv: header.rsv,
                opcode: header.opcode,
                payload: payload.freeze(),
            };
            trace!(opcode = ?frame.opcode, fin = frame.fin, len = frame.payload.len(), "frame in");
            if let Some(msg) = self.on_frame(frame, validated)? {
                return Ok(Read::Message(msg));
            }
        }
    }

    /// `validated`: how many leading payload bytes the UTF-8 validator has
    /// already seen (early validation, no extension active).
    fn on_frame(
        &mut self,
        frame: Frame,
        validated: usize,
    ) -> Result<Option<Message>, ProtocolError> {
        if frame.opcode.is_control() {
            let frame = self.stack.decode(frame, 125)?;
            return Ok(Some(match frame.opcode {
                OpCode::Ping => Message::Ping(frame.payload),
                OpCode::Pong => Message::Pong(frame.payload),
                _ => Message::Close(close::parse(frame.payload)?),
            }));
        }
        let so_far = self.partial.as_ref().map_or(0, |p| p.len);
        let budget = self.max_message - so_far;
        let frame = self.stack.decode(frame, budget)?;
        let fin = frame.fin;
        let text = match &self.partial {
            Some(p) => p.text,
            None => frame.opcode == OpCode::Text,
        };
        if text {
            let rest = frame.payload.get(validated..).unwrap_or_default();
            self.utf8
                .feed(rest)
                .map_err(|_| ProtocolError::InvalidUtf8)?;
            if fin {
                self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
            }
        }
        let payload = match self.partial.take() {
            None if fin => frame.payload,
            None => {
                self.partial = Some(Partial {
                    text,
                    len: frame.payload.len(),
                    first: Some(frame.payload),
                    rest: BytesMut::new(),
                });
                return Ok(None);
            }
            Some(mut p) => {
                if let Some(first) = p.first.take() {
                    p.rest.reserve(first.len() + frame.payload.len());
                    p.rest.extend_from_slice(&first);
                }
                p.rest.extend_from_slice(&frame.payload);
                p.len += frame.payload.len();
                if !fin {
                    self.partial = Some(p);
                    return Ok(None);
                }
                p.rest.freeze()
            }
        };
        Ok(Some(if text {
            // SAFETY: every byte of the message went through the UTF-8
            // validator above, which accepted it and found it complete.
            #[allow(unsafe_code)]
            Message::Text(unsafe { Utf8Bytes::from_bytes_unchecked(payload) })
        } else {
            Message::Binary(payload)
        }))
    }
}

/// The mask as seen from payload offset `offset`.
fn rotate(m: [u8; 4], offset: usize) -> [u8; 4] {
    let o = offset & 3;
    [m[o], m[(o + 1) & 3], m[(o + 2) & 3], m[(o + 3) & 3]]
}

/// After the connection failed (or while waiting for the peer's close):
/// skips whole frames as their bytes arrive, without buffering payloads, and
/// reports when the peer's close frame begins.
#[derive(Debug, Default)]
pub struct FrameSkipper {
    remaining: u64,
}

impl FrameSkipper {
    /// A skipper at a frame boundary.
    pub fn new() -> Self {
        Self::default()
    }

    /// Consume what `buf` holds. `Ok(true)`: a close frame was found.
    /// `Err`: the bytes are not a frame stream.
    pub fn skip(&mut self, buf: &mut BytesMut) -> Result<bool, ProtocolError> {
        loop {
            if self.remaining > 0 {
                let n = (buf.len() as u64).min(self.remaining) as usize;
                let _ = buf.split_to(n);
                self.remaining -= n as u64;
                if self.remaining > 0 {
                    return Ok(false);
                }
            }
            match FrameHeader::parse(buf)? {
                None => return Ok(false),
                Some((h, n)) => {
                    let _ = buf.split_to(n);
                    if h.opcode == OpCode::Close {
                        return Ok(true);
                    }
                    self.remaining = h.payload_len;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipper_streams_through_huge_frames_and_finds_close() {
        let mut sk = FrameSkipper::new();
        let mut buf = BytesMut::from(&[0x82u8, 127, 0, 0, 0, 1, 0, 0, 0, 0][..]);
        assert_eq!(sk.skip(&mut buf), Ok(false));
        for _ in 0..4 {
            buf.extend_from_slice(&[0u8; 1 << 16]);
            assert_eq!(sk.skip(&mut buf), Ok(false));
            assert!(buf.is_empty(), "payload is discarded, not buffered");
        }
        let mut sk = FrameSkipper::new();
        let mut buf = BytesMut::from(&[0x81u8, 2, b'h', b'i', 0x88, 2, 3, 0xe8][..]);
        assert_eq!(sk.skip(&mut buf), Ok(true));
    }
}
