//! The two variable-length integer encodings of the mux framing.
//!
//! - **Channel IDs** (1–4 bytes, §C.3): `0xxxxxxx` (7 bits), `10xxxxxx` + 1
//!   byte (14 bits), `110xxxxx` + 2 bytes (21 bits), `111xxxxx` + 3 bytes
//!   (29 bits), big-endian. [`encode_channel_id`] always writes the shortest
//!   form. [`decode_channel_id`] **accepts non-minimal forms** (as
//!   mod_pywebsocket does; Jetty rejects them): a longer form is still an
//!   unambiguous value, and refusing it buys nothing.
//! - **Numbers in control blocks** (§C.4): the RFC 6455 payload-length
//!   encoding with the top bit of the first byte 0 — `0..=125` in one byte,
//!   `126` + 16-bit, `127` + 64-bit with its MSB 0. The **minimal form is
//!   required** both ways: [`decode_number`] rejects `7e 00 7d` and the
//!   9-byte form for values ≤ 0xFFFF, as mod_pywebsocket does.

use bytes::{BufMut, BytesMut};

/// The largest channel ID: 2^29 − 1.
pub const MAX_CHANNEL_ID: u32 = (1 << 29) - 1;
/// The largest number a control block can carry: 2^63 − 1.
pub const MAX_NUMBER: u64 = (1 << 63) - 1;

/// Why a channel ID or number could not be read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireFault {
    /// The input ends inside the field.
    #[error("truncated")]
    Truncated,
    /// The first byte of a number has its top bit set.
    #[error("top bit of a number's first byte is set")]
    TopBitSet,
    /// A number in a longer form than needed.
    #[error("number {0} not in its shortest encoding")]
    NotMinimal(u64),
    /// A 64-bit number with its most significant bit set (≥ 2^63).
    #[error("number does not fit in 63 bits")]
    TooLarge,
    /// A channel ID above 2^29 − 1 (encoding only).
    #[error("channel id {0} exceeds 2^29-1")]
    ChannelIdTooLarge(u32),
}

/// Append the shortest encoding of channel `id`.
///
/// ```
/// let mut b = bytes::BytesMut::new();
/// ws_mux::wire::encode_channel_id(16384, &mut b).unwrap();
/// assert_eq!(&b[..], &[0xc0, 0x40, 0x00]);
/// ```
pub fn encode_channel_id(id: u32, out: &mut BytesMut) -> Result<(), WireFault> {
    match id {
        0..=0x7f => out.put_u8(id as u8),
        0x80..=0x3fff => out.put_u16(0x8000 | id as u16),
        0x4000..=0x1f_ffff => {
            out.put_u8(0xc0 | (id >> 16) as u8);
            out.put_u16(id as u16);
        }
        0x20_0000..=MAX_CHANNEL_ID => out.put_u32(0xe000_0000 | id),
        _ => return Err(WireFault::ChannelIdTooLarge(id)),
    }
    Ok(())
}

/// The length of the shortest encoding of `id` (1–4).
pub fn channel_id_len(id: u32) -> usize {
    match id {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        _ => 4,
    }
}

/// Read a channel ID from the start of `buf`: the ID and the bytes used.
/// Non-minimal encodings are accepted (see the module docs).
pub fn decode_channel_id(buf: &[u8]) -> Result<(u32, usize), WireFault> {
    let first = *buf.first().ok_or(WireFault::Truncated)?;
    let len = if first & 0x80 == 0 {
        1
    } else if first & 0xc0 == 0x80 {
        2
    } else if first & 0xe0 == 0xc0 {
        3
    } else {
        4
    };
    let bytes = buf.get(..len).ok_or(WireFault::Truncated)?;
    let mut v: u32 = 0;
    for b in bytes {
        v = (v << 8) | u32::from(*b);
    }
    let mask: u32 = match len {
        1 => 0x7f,
        2 => 0x3fff,
        3 => 0x1f_ffff,
        _ => MAX_CHANNEL_ID,
    };
    Ok((v & mask, len))
}

/// Append the minimal encoding of `n` (must be ≤ [`MAX_NUMBER`]).
///
/// ```
/// let mut b = bytes::BytesMut::new();
/// ws_mux::wire::encode_number(8192, &mut b).unwrap();
/// assert_eq!(&b[..], &[0x7e, 0x20, 0x00]);
/// ```
pub fn encode_number(n: u64, out: &mut BytesMut) -> Result<(), WireFault> {
    match n {
        0..=125 => out.put_u8(n as u8),
        126..=0xffff => {
            out.put_u8(126);
            out.put_u16(n as u16);
        }
        0x1_0000..=MAX_NUMBER => {
            out.put_u8(127);
            out.put_u64(n);
        }
        _ => return Err(WireFault::TooLarge),
    }
    Ok(())
}

/// Read a number from the start of `buf`: the value and the bytes used.
/// Only the minimal encoding is accepted.
pub fn decode_number(buf: &[u8]) -> Result<(u64, usize), WireFault> {
    let first = *buf.first().ok_or(WireFault::Truncated)?;
    if first & 0x80 != 0 {
        return Err(WireFault::TopBitSet);
    }
    match first {
        126 => {
            let b = buf.get(1..3).ok_or(WireFault::Truncated)?;
            let v = u64::from(u16::from_be_bytes([b[0], b[1]]));
            if v <= 125 {
                return Err(WireFault::NotMinimal(v));
            }
            Ok((v, 3))
        }
        127 => {
            let b = buf.get(1..9).ok_or(WireFault::Truncated)?;
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            let v = u64::from_be_bytes(a);
            if v > MAX_NUMBER {
                return Err(WireFault::TooLarge);
            }
            if v <= 0xffff {
                return Err(WireFault::NotMinimal(v));
            }
            Ok((v, 9))
        }
        n => Ok((u64::from(n), 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(v: u32) -> Vec<u8> {
        let mut b = BytesMut::new();
        encode_channel_id(v, &mut b).unwrap();
        b.to_vec()
    }
    fn num(v: u64) -> Vec<u8> {
        let mut b = BytesMut::new();
        encode_number(v, &mut b).unwrap();
        b.to_vec()
    }

    #[test]
    fn channel_id_vectors_from_spec() {
        let cases: &[(u32, &[u8])] = &[
            (0, &[0x00]),
            (1, &[0x01]),
            (127, &[0x7f]),
            (128, &[0x80, 0x80]),
            ((1 << 14) - 1, &[0xbf, 0xff]),
            (1 << 14, &[0xc0, 0x40, 0x00]),
            ((1 << 21) - 1, &[0xdf, 0xff, 0xff]),
            (1 << 21, &[0xe0, 0x20, 0x00, 0x00]),
            ((1 << 29) - 1, &[0xff, 0xff, 0xff, 0xff]),
        ];
        for (v, bytes) in cases {
            assert_eq!(id(*v), *bytes, "encode {v}");
            assert_eq!(channel_id_len(*v), bytes.len());
            assert_eq!(
                decode_channel_id(bytes),
                Ok((*v, bytes.len())),
                "decode {v}"
            );
        }
    }

    #[test]
    fn channel_id_errors() {
        assert_eq!(decode_channel_id(&[]), Err(WireFault::Truncated));
        assert_eq!(decode_channel_id(&[0x80]), Err(WireFault::Truncated));
        assert_eq!(decode_channel_id(&[0xc0, 0]), Err(WireFault::Truncated));
        assert_eq!(decode_channel_id(&[0xe0, 0, 0]), Err(WireFault::Truncated));
        // Non-minimal is accepted: 2 in the 2-byte form.
        assert_eq!(decode_channel_id(&[0x80, 0x02]), Ok((2, 2)));
        let mut b = BytesMut::new();
        assert_eq!(
            encode_channel_id(1 << 29, &mut b),
            Err(WireFault::ChannelIdTooLarge(1 << 29))
        );
    }

    #[test]
    fn number_vectors() {
        assert_eq!(num(0), [0]);
        assert_eq!(num(125), [125]);
        assert_eq!(num(126), [126, 0, 126]);
        assert_eq!(num(8192), [0x7e, 0x20, 0x00]);
        assert_eq!(num(0xffff), [126, 0xff, 0xff]);
        assert_eq!(num(0x1_0000), [127, 0, 0, 0, 0, 0, 1, 0, 0]);
        assert_eq!(
            num(MAX_NUMBER),
            [127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
        let mut b = BytesMut::new();
        assert_eq!(
            encode_number(MAX_NUMBER + 1, &mut b),
            Err(WireFault::TooLarge)
        );
    }

    #[test]
    fn number_rejects_non_minimal_and_bad_bits() {
        assert_eq!(
            decode_number(&[0x7e, 0x00, 0x7d]),
            Err(WireFault::NotMinimal(125))
        );
        assert_eq!(
            decode_number(&[127, 0, 0, 0, 0, 0, 0, 0xff, 0xff]),
            Err(WireFault::NotMinimal(0xffff))
        );
        assert_eq!(
            decode_number(&[127, 0x80, 0, 0, 0, 0, 1, 0, 0]),
            Err(WireFault::TooLarge)
        );
        assert_eq!(decode_number(&[0x80]), Err(WireFault::TopBitSet));
        assert_eq!(decode_number(&[126, 1]), Err(WireFault::Truncated));
        assert_eq!(decode_number(&[]), Err(WireFault::Truncated));
    }
}
