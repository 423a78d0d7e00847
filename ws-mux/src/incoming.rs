//! Fragmentation rules for frames arriving on one logical channel.
//!
//! Inside a logical channel control frames may be fragmented (flow control
//! splits them, §C.7) and may be interleaved with the fragments of a data
//! message. Control fragments are reassembled here, so the channel's
//! extensions and the application only ever see whole control frames and
//! well-ordered data fragments. Once a control frame has started, only its
//! continuations may follow until its FIN (as mod_pywebsocket reads it).

use bytes::{Bytes, BytesMut};
use ws_ext_core::{Frame, OpCode, RsvBits};

use crate::drop_code;

/// The largest reassembled control frame (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// A Fail the Logical Channel verdict: drop code and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelFault {
    /// The drop code (3000 or 3009).
    pub code: u16,
    /// Why.
    pub reason: String,
}

fn fault(code: u16, reason: impl Into<String>) -> ChannelFault {
    ChannelFault {
        code,
        reason: reason.into(),
    }
}

/// Per-channel receive-side fragmentation state.
#[derive(Debug, Default)]
pub struct Reassembly {
    message_open: bool,
    control: Option<(OpCode, RsvBits, BytesMut)>,
}

impl Reassembly {
    /// Whether a fragmented data message is in progress.
    pub fn message_open(&self) -> bool {
        self.message_open
    }

    /// Take one encapsulated frame: `Some` frame to pass on, `None` while a
    /// control frame is still incomplete, or the fault that fails the
    /// channel (3009 bad fragmentation, 3000 reserved opcode or oversized
    /// control frame).
    pub fn accept(&mut self, frame: Frame) -> Result<Option<Frame>, ChannelFault> {
        if let Some((opcode, rsv, buf)) = &mut self.control {
            if frame.opcode != OpCode::Continuation {
                return Err(fault(
                    drop_code::BAD_FRAGMENTATION,
                    format!(
                        "{:?} frame inside a fragmented {opcode:?} frame",
                        frame.opcode
                    ),
                ));
            }
            if buf.len() + frame.payload.len() > MAX_CONTROL_PAYLOAD {
                return Err(fault(
                    drop_code::LOGICAL_CHANNEL_FAILED,
                    format!("{opcode:?} frame longer than {MAX_CONTROL_PAYLOAD} bytes"),
                ));
            }
            buf.extend_from_slice(&frame.payload);
            if !frame.fin {
                return Ok(None);
            }
            let (opcode, rsv) = (*opcode, *rsv);
            let payload: Bytes = std::mem::take(buf).freeze();
            self.control = None;
            return Ok(Some(Frame {
                fin: true,
                rsv,
                opcode,
                payload,
            }));
        }
        match frame.opcode {
            OpCode::Reserved(op) => Err(fault(
                drop_code::LOGICAL_CHANNEL_FAILED,
                format!("reserved opcode 0x{op:x}"),
            )),
            op if op.is_control() => {
                if frame.payload.len() > MAX_CONTROL_PAYLOAD {
                    return Err(fault(
                        drop_code::LOGICAL_CHANNEL_FAILED,
                        format!("{op:?} frame longer than {MAX_CONTROL_PAYLOAD} bytes"),
                    ));
                }
                if frame.fin {
                    return Ok(Some(frame));
                }
                self.control = Some((op, frame.rsv, BytesMut::from(&frame.payload[..])));
                Ok(None)
            }
            OpCode::Continuation => {
                if !self.message_open {
                    return Err(fault(
                        drop_code::BAD_FRAGMENTATION,
                        "continuation frame with no message to continue",
                    ));
                }
                self.message_open = !frame.fin;
                Ok(Some(frame))
            }
            op => {
                if self.message_open {
                    return Err(fault(
                        drop_code::BAD_FRAGMENTATION,
                        format!("{op:?} frame while a fragmented message is open"),
                    ));
                }
                self.message_open = !frame.fin;
                Ok(Some(frame))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragmented_ping_inside_fragmented_message() {
        let mut r = Reassembly::default();
        let f = |fin, op, p: &'static str| Frame::new(fin, op, p);
        assert!(r.accept(f(false, OpCode::Text, "He")).unwrap().is_some());
        assert!(r.accept(f(false, OpCode::Ping, "p")).unwrap().is_none());
        let ping = r
            .accept(f(true, OpCode::Continuation, "ing"))
            .unwrap()
            .unwrap();
        assert_eq!(
            (ping.opcode, &ping.payload[..]),
            (OpCode::Ping, &b"ping"[..])
        );
        let end = r
            .accept(f(true, OpCode::Continuation, "llo"))
            .unwrap()
            .unwrap();
        assert!(end.fin);
        assert!(!r.message_open());
    }

    #[test]
    fn bad_fragmentation_is_3009() {
        let mut r = Reassembly::default();
        let e = r
            .accept(Frame::new(true, OpCode::Continuation, "x"))
            .unwrap_err();
        assert_eq!(e.code, drop_code::BAD_FRAGMENTATION);
        r.accept(Frame::new(false, OpCode::Binary, "x")).unwrap();
        let e = r.accept(Frame::new(true, OpCode::Text, "x")).unwrap_err();
        assert_eq!(e.code, drop_code::BAD_FRAGMENTATION);
        let mut r = Reassembly::default();
        r.accept(Frame::new(false, OpCode::Ping, "x")).unwrap();
        let e = r.accept(Frame::new(true, OpCode::Text, "x")).unwrap_err();
        assert_eq!(e.code, drop_code::BAD_FRAGMENTATION);
    }

    #[test]
    fn oversized_control_and_reserved_opcode() {
        let mut r = Reassembly::default();
        r.accept(Frame::new(false, OpCode::Ping, vec![0u8; 100]))
            .unwrap();
        let e = r
            .accept(Frame::new(true, OpCode::Continuation, vec![0u8; 26]))
            .unwrap_err();
        assert_eq!(e.code, drop_code::LOGICAL_CHANNEL_FAILED);
        let mut r = Reassembly::default();
        let e = r
            .accept(Frame::new(true, OpCode::Reserved(3), ""))
            .unwrap_err();
        assert_eq!(e.code, drop_code::LOGICAL_CHANNEL_FAILED);
    }
}
