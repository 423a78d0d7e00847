//! Frame headers (RFC 6455 §5.2): incremental parsing and writing.

use bytes::BytesMut;
use ws_ext_core::{Frame, OpCode, RsvBits};

use crate::error::ProtocolError;
use crate::proto::mask::apply_mask;

/// The longest possible header: 2 + 8 (length) + 4 (mask).
pub const MAX_HEADER_LEN: usize = 14;

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN bit.
    pub fin: bool,
    /// RSV1–3.
    pub rsv: RsvBits,
    /// Opcode.
    pub opcode: OpCode,
    /// Masking key, if the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// Payload length.
    pub payload_len: u64,
}

impl FrameHeader {
    /// Parse a header from the start of `buf`. `Ok(None)`: more bytes are
    /// needed. `Ok(Some((header, header_len)))` otherwise. Only the checks
    /// that need no connection state happen here: a 64-bit length with the
    /// top bit set, control frames that are fragmented or longer than 125
    /// bytes. Opcode, mask and RSV policy is the receiver's.
    pub fn parse(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
        if buf.len() < 2 {
            return Ok(None);
        }
        let b0 = buf[0];
        let b1 = buf[1];
        let masked = b1 & 0x80 != 0;
        let (len, mut pos) = match b1 & 0x7f {
            126 => {
                if buf.len() < 4 {
                    return Ok(None);
                }
                (u16::from_be_bytes([buf[2], buf[3]]) as u64, 4)
            }
            127 => {
                if buf.len() < 10 {
                    return Ok(None);
                }
                let mut l = [0u8; 8];
                l.copy_from_slice(&buf[2..10]);
                let len = u64::from_be_bytes(l);
                if len & (1 << 63) != 0 {
                    return Err(ProtocolError::LengthTooLarge);
                }
                (len, 10)
            }
            n => (n as u64, 2),
        };
        let opcode = OpCode::from_u8(b0);
        let fin = b0 & 0x80 != 0;
        if opcode.is_control() {
            if !fin {
                return Err(ProtocolError::FragmentedControl);
            }
            if len > 125 {
                return Err(ProtocolError::ControlTooLong(len));
            }
        }
        let mask = if masked {
            if buf.len() < pos + 4 {
                return Ok(None);
            }
            let m = [buf[pos], buf[pos + 1], buf[pos + 2], buf[pos + 3]];
            pos += 4;
            Some(m)
        } else {
            None
        };
        Ok(Some((
            FrameHeader {
                fin,
                rsv: RsvBits::from_header_byte(b0),
                opcode,
                mask,
                payload_len: len,
            },
            pos,
        )))
    }

    /// Append the header to `out`, with the shortest length encoding.
    pub fn write(&self, out: &mut BytesMut) {
        let mut b = [0u8; MAX_HEADER_LEN];
        let n = self.encode(&mut b);
        out.extend_from_slice(&b[..n]);
    }

    /// Encode the header at the start of `out`, with the shortest length
    /// encoding; returns its length.
    pub fn encode(&self, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        out[0] = (self.fin as u8) << 7 | self.rsv.bits() | self.opcode.as_u8();
        let mbit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut n = match self.payload_len {
            len if len < 126 => {
                out[1] = mbit | len as u8;
                2
            }
            len if len <= u16::MAX as u64 => {
                out[1] = mbit | 126;
                out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                4
            }
            len => {
                out[1] = mbit | 127;
                out[2..10].copy_from_slice(&len.to_be_bytes());
                10
            }
        };
        if let Some(m) = self.mask {
            out[n..n + 4].copy_from_slice(&m);
            n += 4;
        }
        n
    }
}

/// Encode a single unmasked or masked frame into a fresh buffer (a prepared
/// message, tests and tools).
pub fn encode_raw(frame: &Frame, mask: Option<[u8; 4]>) -> BytesMut {
    let mut out = BytesMut::new();
    FrameHeader {
        fin: frame.fin,
        rsv: frame.rsv,
        opcode: frame.opcode,
        mask,
        payload_len: frame.payload.len() as u64,
    }
    .write(&mut out);
    let start = out.len();
    out.extend_from_slice(&frame.payload);
    if let Some(m) = mask {
        apply_mask(&mut out[start..], m);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(b: &[u8]) -> (FrameHeader, usize) {
        FrameHeader::parse(b).unwrap().unwrap()
    }

    #[test]
    fn rfc6455_section_5_7_examples() {
        // A single-frame unmasked text message "Hello".
        let (h, n) = parse_ok(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        assert_eq!(
            (h.fin, h.opcode, h.mask, h.payload_len, n),
            (true, OpCode::Text, None, 5, 2)
        );
        // A single-frame masked text message "Hello".
        let (h, n) = parse_ok(&[
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ]);
        assert_eq!(
            (h.mask, h.payload_len, n),
            (Some([0x37, 0xfa, 0x21, 0x3d]), 5, 6)
        );
        // A fragmented unmasked text message: "Hel" then "lo".
        let (h, _) = parse_ok(&[0x01, 0x03, 0x48, 0x65, 0x6c]);
        assert_eq!((h.fin, h.opcode), (false, OpCode::Text));
        let (h, _) = parse_ok(&[0x80, 0x02, 0x6c, 0x6f]);
        assert_eq!((h.fin, h.opcode), (true, OpCode::Continuation));
        // Unmasked ping "Hello".
        let (h, _) = parse_ok(&[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        assert_eq!(h.opcode, OpCode::Ping);
        // 256 bytes binary message in a single unmasked frame.
        let (h, n) = parse_ok(&[0x82, 0x7E, 0x01, 0x00]);
        assert_eq!((h.opcode, h.payload_len, n), (OpCode::Binary, 256, 4));
        // 64 KiB binary message in a single unmasked frame.
        let (h, n) = parse_ok(&[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]);
        assert_eq!((h.payload_len, n), (65536, 10));
    }

    #[test]
    fn incomplete_headers_ask_for_more() {
        let full = [0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4];
        for i in 0..full.len() {
            assert_eq!(FrameHeader::parse(&full[..i]), Ok(None), "prefix {i}");
        }
        assert_eq!(parse_ok(&full).1, 14);
    }

    #[test]
    fn header_faults() {
        assert_eq!(
            FrameHeader::parse(&[0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            Err(ProtocolError::LengthTooLarge)
        );
        assert_eq!(
            FrameHeader::parse(&[0x09, 0x00]),
            Err(ProtocolError::FragmentedControl)
        );
        assert_eq!(
            FrameHeader::parse(&[0x89, 0x7E, 0, 126]),
            Err(ProtocolError::ControlTooLong(126))
        );
        let (h, _) = parse_ok(&[0xF3, 0x00]);
        assert_eq!(h.rsv, RsvBits::ALL);
        assert_eq!(h.opcode, OpCode::Reserved(3));
    }

    #[test]
    fn write_round_trips_every_length_form() {
        for len in [0u64, 125, 126, 65535, 65536, 1 << 40] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let h = FrameHeader {
                    fin: true,
                    rsv: RsvBits::RSV1,
                    opcode: OpCode::Binary,
                    mask,
                    payload_len: len,
                };
                let mut out = BytesMut::new();
                h.write(&mut out);
                assert_eq!(parse_ok(&out), (h, out.len()));
            }
        }
    }
}
