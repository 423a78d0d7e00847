//! Mux units: the payload of one binary message on the physical connection
//! (§C.2).
//!
//! ```text
//! channel ID (1–4 bytes) | ID 0: control blocks
//!                        | ID ≠ 0: |FIN|RSV1|RSV2|RSV3|opcode(4)| payload…
//! ```
//!
//! The encapsulated frame has no length (the payload is the rest of the
//! message) and no mask (the physical frame masks). Its RSV bits belong to
//! the extensions negotiated on that logical channel.

use bytes::{BufMut, Bytes, BytesMut};
use ws_ext_core::{Frame, OpCode, RsvBits};

use crate::control::ControlBlock;
use crate::drop_code;
use crate::error::WireError;
use crate::wire;
use crate::ChannelId;

/// One decoded physical message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MuxUnit {
    /// Channel 0: one or more control blocks.
    Control(Vec<ControlBlock>),
    /// A logical frame on a channel ≥ 1.
    Frame {
        /// The channel.
        channel: ChannelId,
        /// The encapsulated frame.
        frame: Frame,
    },
}

impl MuxUnit {
    /// Decode one physical binary message payload.
    ///
    /// Errors: empty or cut-off channel ID → 2002; a logical channel with no
    /// header byte → 2003; malformed control blocks → 2004/2005/2010/2012.
    ///
    /// ```
    /// use ws_mux::unit::MuxUnit;
    /// let u = MuxUnit::decode(bytes::Bytes::from_static(b"\x02\x81Hello")).unwrap();
    /// let MuxUnit::Frame { channel, frame } = u else { panic!() };
    /// assert_eq!((channel, &frame.payload[..]), (2, &b"Hello"[..]));
    /// ```
    pub fn decode(payload: Bytes) -> Result<MuxUnit, WireError> {
        let (channel, used) = wire::decode_channel_id(&payload).map_err(|f| {
            WireError::new(
                drop_code::CHANNEL_ID_TRUNCATED,
                format!("physical message channel id: {f}"),
            )
        })?;
        if channel == 0 {
            return Ok(MuxUnit::Control(ControlBlock::decode_all(
                &payload[used..],
            )?));
        }
        let Some(&header) = payload.get(used) else {
            return Err(WireError::new(
                drop_code::ENCAPSULATED_FRAME_TRUNCATED,
                format!("channel {channel}: no encapsulated frame header"),
            ));
        };
        let frame = Frame {
            fin: header & 0x80 != 0,
            rsv: RsvBits::from_header_byte(header),
            opcode: OpCode::from_u8(header),
            payload: payload.slice(used + 1..),
        };
        Ok(MuxUnit::Frame { channel, frame })
    }

    /// Encode into one physical message payload.
    pub fn encode(&self) -> Result<Bytes, WireError> {
        match self {
            MuxUnit::Control(blocks) => encode_control(blocks),
            MuxUnit::Frame { channel, frame } => encode_frame(*channel, frame),
        }
    }
}

/// The physical payload carrying `blocks` on channel 0.
pub fn encode_control(blocks: &[ControlBlock]) -> Result<Bytes, WireError> {
    let mut out = BytesMut::new();
    out.put_u8(0);
    for b in blocks {
        b.encode(&mut out)?;
    }
    Ok(out.freeze())
}

/// The physical payload carrying `frame` on `channel` (≥ 1).
///
/// ```
/// use ws_ext_core::{Frame, OpCode};
/// let p = ws_mux::unit::encode_frame(2, &Frame::new(true, OpCode::Text, "Hello")).unwrap();
/// assert_eq!(&p[..], b"\x02\x81Hello");
/// ```
pub fn encode_frame(channel: ChannelId, frame: &Frame) -> Result<Bytes, WireError> {
    if channel == 0 {
        return Err(WireError::new(
            drop_code::INVALID_ENCAPSULATING_MESSAGE,
            "a logical frame cannot go on channel 0",
        ));
    }
    let mut out = BytesMut::with_capacity(wire::channel_id_len(channel) + 1 + frame.payload.len());
    wire::encode_channel_id(channel, &mut out)
        .map_err(|f| WireError::new(drop_code::INVALID_ENCAPSULATING_MESSAGE, f.to_string()))?;
    out.put_u8(u8::from(frame.fin) << 7 | frame.rsv.bits() | frame.opcode.as_u8());
    out.put_slice(&frame.payload);
    Ok(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_on_channel_2() {
        let f = Frame::new(true, OpCode::Text, "Hello");
        let p = encode_frame(2, &f).unwrap();
        assert_eq!(&p[..], &[0x02, 0x81, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        assert_eq!(
            MuxUnit::decode(p).unwrap(),
            MuxUnit::Frame {
                channel: 2,
                frame: f
            }
        );
    }

    #[test]
    fn rsv_bits_are_in_the_encapsulated_header() {
        let mut f = Frame::new(false, OpCode::Binary, vec![1u8, 2]);
        f.rsv = RsvBits::RSV1 | RsvBits::RSV3;
        let p = encode_frame(300, &f).unwrap();
        assert_eq!(&p[..3], &[0x81, 0x2c, 0x52]);
        assert_eq!(
            MuxUnit::decode(p).unwrap(),
            MuxUnit::Frame {
                channel: 300,
                frame: f
            }
        );
    }

    #[test]
    fn control_payload_is_prefixed_with_channel_zero() {
        let p = encode_control(&[ControlBlock::DropChannel {
            channel: 1,
            reason: None,
        }])
        .unwrap();
        assert_eq!(&p[..], &[0x00, 0x60, 0x01, 0x00]);
    }

    #[test]
    fn truncation_codes() {
        let code = |b: &'static [u8]| MuxUnit::decode(Bytes::from_static(b)).unwrap_err().code;
        assert_eq!(code(b""), drop_code::CHANNEL_ID_TRUNCATED);
        assert_eq!(code(b"\x80"), drop_code::CHANNEL_ID_TRUNCATED);
        assert_eq!(code(b"\x05"), drop_code::ENCAPSULATED_FRAME_TRUNCATED);
        assert_eq!(code(b"\x00\xa0"), drop_code::UNKNOWN_MUX_OPCODE);
        // An empty control payload is valid (no blocks).
        assert_eq!(
            MuxUnit::decode(Bytes::from_static(b"\x00")).unwrap(),
            MuxUnit::Control(vec![])
        );
    }
}
