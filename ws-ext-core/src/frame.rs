//! The frame as extensions see it: header bits and the unmasked payload.

use crate::rsv::RsvBits;
use bytes::Bytes;

/// A frame opcode (RFC 6455 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// 0x0: continues a fragmented message.
    Continuation,
    /// 0x1: first frame of a text message.
    Text,
    /// 0x2: first frame of a binary message.
    Binary,
    /// 0x8.
    Close,
    /// 0x9.
    Ping,
    /// 0xA.
    Pong,
    /// 0x3–0x7 and 0xB–0xF, reserved for extensions.
    Reserved(u8),
}

impl OpCode {
    /// From the low four bits of the first header byte.
    pub const fn from_u8(b: u8) -> OpCode {
        match b & 0x0f {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            other => OpCode::Reserved(other),
        }
    }
    /// The four-bit wire value.
    pub const fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
            OpCode::Reserved(b) => b & 0x0f,
        }
    }
    /// Close, ping, pong and reserved 0xB–0xF.
    pub const fn is_control(self) -> bool {
        self.as_u8() & 0x08 != 0
    }
    /// Text, binary, continuation and reserved 0x3–0x7.
    pub const fn is_data(self) -> bool {
        !self.is_control()
    }
    /// Text or binary: the frame starts a message.
    pub const fn starts_message(self) -> bool {
        matches!(self, OpCode::Text | OpCode::Binary)
    }
}

/// One frame, unmasked. For data frames, the frame starts a message when its
/// opcode is text or binary and ends it when `fin` is set; a message that
/// fits one frame has both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// FIN bit.
    pub fin: bool,
    /// RSV bits.
    pub rsv: RsvBits,
    /// Opcode.
    pub opcode: OpCode,
    /// Application (and extension) data, unmasked.
    pub payload: Bytes,
}

impl Frame {
    /// A frame with no RSV bit.
    pub fn new(fin: bool, opcode: OpCode, payload: impl Into<Bytes>) -> Self {
        Frame {
            fin,
            rsv: RsvBits::NONE,
            opcode,
            payload: payload.into(),
        }
    }
    /// Whether this frame begins a data message.
    pub fn is_message_start(&self) -> bool {
        self.opcode.starts_message()
    }
    /// Whether this frame is the last of a data message.
    pub fn is_message_end(&self) -> bool {
        self.fin && self.opcode.is_data()
    }
}
