//! Multiplex control blocks: the payload of channel 0 (§C.5).
//!
//! ```text
//! AddChannelRequest   000 RRR EE   channel | size | handshake      client → server
//! AddChannelResponse  001 F RR EE  channel | size | handshake      server → client
//! FlowControl         010 RRRRR    channel | quota to add          both
//! DropChannel         011 RRRRR    channel | size | [code(2) msg]  both
//! NewChannelSlot      100 RRRR F   slots | quota per slot          server → client
//! ```
//!
//! Reserved bits must be 0 and a DropChannel reason of exactly one byte is
//! invalid (2005); opcodes 5–7 are 2004; handshake encodings 2 and 3 are
//! 2010 (request) / 2012 (response). The direction rules are enforced by the
//! session, which knows its role ([`ControlBlock::allowed_from_client`]).

use bytes::{BufMut, Bytes, BytesMut};

use crate::drop_code;
use crate::error::WireError;
use crate::wire::{self, WireFault};

/// How an encapsulated handshake is encoded (the `Enc` bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandshakeEncoding {
    /// 0: the whole handshake text.
    Identity,
    /// 1: only the headers that differ from the delta base.
    Delta,
}

impl HandshakeEncoding {
    fn bits(self) -> u8 {
        match self {
            Self::Identity => 0,
            Self::Delta => 1,
        }
    }
}

/// The reason carried by a DropChannel: a code and a UTF-8 message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DropReason {
    /// The drop code (see [`crate::drop_code`]).
    pub code: u16,
    /// Human-readable text (may be empty).
    pub message: String,
}

/// One multiplex control block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlBlock {
    /// Opcode 0, client → server: open `channel`.
    AddChannelRequest {
        /// The channel to open (never 0 or 1).
        channel: u32,
        /// How `handshake` is encoded.
        encoding: HandshakeEncoding,
        /// The encapsulated HTTP request text.
        handshake: Bytes,
    },
    /// Opcode 1, server → client: the answer to an AddChannelRequest.
    AddChannelResponse {
        /// The channel requested.
        channel: u32,
        /// The F bit: the request was refused.
        rejected: bool,
        /// How `handshake` is encoded.
        encoding: HandshakeEncoding,
        /// The encapsulated HTTP response text.
        handshake: Bytes,
    },
    /// Opcode 2, both ways: add `quota` bytes to the peer's send quota.
    FlowControl {
        /// The channel.
        channel: u32,
        /// Bytes to add (≤ 2^63 − 1).
        quota: u64,
    },
    /// Opcode 3, both ways: drop `channel` now (channel 0: the physical
    /// connection failed).
    DropChannel {
        /// The channel.
        channel: u32,
        /// The reason; `None` is an empty reason field.
        reason: Option<DropReason>,
    },
    /// Opcode 4, server → client: `slots` more channels may be opened, each
    /// starting with send quota `quota`. `fallback`: open no more channels
    /// here (then both numbers are 0).
    NewChannelSlot {
        /// How many slots to add.
        slots: u64,
        /// The client's initial send quota on a channel opened in one.
        quota: u64,
        /// The F bit.
        fallback: bool,
    },
}

const OP_ADD_REQ: u8 = 0;
const OP_ADD_RESP: u8 = 1;
const OP_FLOW: u8 = 2;
const OP_DROP: u8 = 3;
const OP_SLOT: u8 = 4;

fn bad(reason: impl Into<String>) -> WireError {
    WireError::new(drop_code::INVALID_MUX_CONTROL_BLOCK, reason)
}

fn enc_err(f: WireFault) -> WireError {
    WireError::new(
        drop_code::INVALID_MUX_CONTROL_BLOCK,
        format!("cannot encode: {f}"),
    )
}

impl ControlBlock {
    /// The block's name, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::AddChannelRequest { .. } => "AddChannelRequest",
            Self::AddChannelResponse { .. } => "AddChannelResponse",
            Self::FlowControl { .. } => "FlowControl",
            Self::DropChannel { .. } => "DropChannel",
            Self::NewChannelSlot { .. } => "NewChannelSlot",
        }
    }

    /// Whether a client may send this block (AddChannelRequest,
    /// FlowControl, DropChannel).
    pub fn allowed_from_client(&self) -> bool {
        !matches!(
            self,
            Self::AddChannelResponse { .. } | Self::NewChannelSlot { .. }
        )
    }

    /// Whether a server may send this block (AddChannelResponse,
    /// FlowControl, DropChannel, NewChannelSlot).
    pub fn allowed_from_server(&self) -> bool {
        !matches!(self, Self::AddChannelRequest { .. })
    }

    /// Append the block's bytes. Fails only on values the wire cannot carry
    /// (a channel ID above 2^29 − 1, a number above 2^63 − 1).
    ///
    /// ```
    /// use ws_mux::control::ControlBlock;
    /// let mut b = bytes::BytesMut::new();
    /// ControlBlock::FlowControl { channel: 1, quota: 8192 }.encode(&mut b).unwrap();
    /// assert_eq!(&b[..], &[0x40, 0x01, 0x7e, 0x20, 0x00]);
    /// ```
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), WireError> {
        match self {
            Self::AddChannelRequest {
                channel,
                encoding,
                handshake,
            } => {
                out.put_u8(OP_ADD_REQ << 5 | encoding.bits());
                wire::encode_channel_id(*channel, out).map_err(enc_err)?;
                wire::encode_number(handshake.len() as u64, out).map_err(enc_err)?;
                out.put_slice(handshake);
            }
            Self::AddChannelResponse {
                channel,
                rejected,
                encoding,
                handshake,
            } => {
                out.put_u8(OP_ADD_RESP << 5 | u8::from(*rejected) << 4 | encoding.bits());
                wire::encode_channel_id(*channel, out).map_err(enc_err)?;
                wire::encode_number(handshake.len() as u64, out).map_err(enc_err)?;
                out.put_slice(handshake);
            }
            Self::FlowControl { channel, quota } => {
                out.put_u8(OP_FLOW << 5);
                wire::encode_channel_id(*channel, out).map_err(enc_err)?;
                wire::encode_number(*quota, out).map_err(enc_err)?;
            }
            Self::DropChannel { channel, reason } => {
                out.put_u8(OP_DROP << 5);
                wire::encode_channel_id(*channel, out).map_err(enc_err)?;
                match reason {
                    None => out.put_u8(0),
                    Some(r) => {
                        wire::encode_number(2 + r.message.len() as u64, out).map_err(enc_err)?;
                        out.put_u16(r.code);
                        out.put_slice(r.message.as_bytes());
                    }
                }
            }
            Self::NewChannelSlot {
                slots,
                quota,
                fallback,
            } => {
                out.put_u8(OP_SLOT << 5 | u8::from(*fallback));
                wire::encode_number(*slots, out).map_err(enc_err)?;
                wire::encode_number(*quota, out).map_err(enc_err)?;
            }
        }
        Ok(())
    }

    /// Parse every block of a channel-0 payload (after the channel ID).
    /// Direction rules are not checked here.
    pub fn decode_all(mut buf: &[u8]) -> Result<Vec<ControlBlock>, WireError> {
        let mut out = Vec::new();
        while !buf.is_empty() {
            let (block, used) = Self::decode(buf)?;
            out.push(block);
            buf = &buf[used..];
        }
        Ok(out)
    }

    /// Parse one block from the start of `buf`: the block and the bytes used.
    pub fn decode(buf: &[u8]) -> Result<(ControlBlock, usize), WireError> {
        let mut r = Reader { buf, pos: 0 };
        let first = r.byte()?;
        let block = match first >> 5 {
            OP_ADD_REQ => {
                if first & 0x1c != 0 {
                    return Err(bad("AddChannelRequest with reserved bits set"));
                }
                let encoding = match first & 0x03 {
                    0 => HandshakeEncoding::Identity,
                    1 => HandshakeEncoding::Delta,
                    e => {
                        return Err(WireError::new(
                            drop_code::UNKNOWN_REQUEST_ENCODING,
                            format!("AddChannelRequest with unknown handshake encoding {e}"),
                        ))
                    }
                };
                let channel = r.channel()?;
                let handshake = r.sized()?;
                Self::AddChannelRequest {
                    channel,
                    encoding,
                    handshake,
                }
            }
            OP_ADD_RESP => {
                if first & 0x0c != 0 {
                    return Err(bad("AddChannelResponse with reserved bits set"));
                }
                let encoding = match first & 0x03 {
                    0 => HandshakeEncoding::Identity,
                    1 => HandshakeEncoding::Delta,
                    e => {
                        return Err(WireError::new(
                            drop_code::UNKNOWN_RESPONSE_ENCODING,
                            format!("AddChannelResponse with unknown handshake encoding {e}"),
                        ))
                    }
                };
                let channel = r.channel()?;
                let handshake = r.sized()?;
                Self::AddChannelResponse {
                    channel,
                    rejected: first & 0x10 != 0,
                    encoding,
                    handshake,
                }
            }
            OP_FLOW => {
                if first & 0x1f != 0 {
                    return Err(bad("FlowControl with reserved bits set"));
                }
                let channel = r.channel()?;
                let quota = r.number("send quota")?;
                Self::FlowControl { channel, quota }
            }
            OP_DROP => {
                if first & 0x1f != 0 {
                    return Err(bad("DropChannel with reserved bits set"));
                }
                let channel = r.channel()?;
                let raw = r.sized()?;
                let reason = match raw.len() {
                    0 => None,
                    1 => return Err(bad("DropChannel reason of exactly one byte")),
                    _ => {
                        let code = u16::from_be_bytes([raw[0], raw[1]]);
                        let message = std::str::from_utf8(&raw[2..])
                            .map_err(|_| bad("DropChannel reason message is not UTF-8"))?
                            .to_owned();
                        Some(DropReason { code, message })
                    }
                };
                Self::DropChannel { channel, reason }
            }
            OP_SLOT => {
                if first & 0x1e != 0 {
                    return Err(bad("NewChannelSlot with reserved bits set"));
                }
                let slots = r.number("slot count")?;
                let quota = r.number("initial send quota")?;
                Self::NewChannelSlot {
                    slots,
                    quota,
                    fallback: first & 0x01 != 0,
                }
            }
            op => {
                return Err(WireError::new(
                    drop_code::UNKNOWN_MUX_OPCODE,
                    format!("unknown mux opcode {op}"),
                ))
            }
        };
        Ok((block, r.pos))
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn rest(&self) -> &[u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }
    fn byte(&mut self) -> Result<u8, WireError> {
        let b = *self
            .rest()
            .first()
            .ok_or_else(|| bad("empty control block"))?;
        self.pos += 1;
        Ok(b)
    }
    fn channel(&mut self) -> Result<u32, WireError> {
        let (id, n) = wire::decode_channel_id(self.rest())
            .map_err(|f| bad(format!("channel id in control block: {f}")))?;
        self.pos += n;
        Ok(id)
    }
    fn number(&mut self, what: &str) -> Result<u64, WireError> {
        let (v, n) = wire::decode_number(self.rest()).map_err(|f| bad(format!("{what}: {f}")))?;
        self.pos += n;
        Ok(v)
    }
    fn sized(&mut self) -> Result<Bytes, WireError> {
        let size = self.number("size field")?;
        let rest = self.rest();
        if size > rest.len() as u64 {
            return Err(bad(format!(
                "size field says {size} bytes but only {} remain",
                rest.len()
            )));
        }
        let size = size as usize;
        let v = Bytes::copy_from_slice(&rest[..size]);
        self.pos += size;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(b: &ControlBlock) -> Vec<u8> {
        let mut out = BytesMut::new();
        b.encode(&mut out).unwrap();
        out.to_vec()
    }

    /// The §C.5 vectors (from mod_pywebsocket's test_mux.py), both ways.
    #[test]
    fn spec_vectors_both_ways() {
        let cases: Vec<(ControlBlock, &[u8])> = vec![
            (
                ControlBlock::AddChannelResponse {
                    channel: 1,
                    rejected: false,
                    encoding: HandshakeEncoding::Identity,
                    handshake: Bytes::from_static(b"FooBar"),
                },
                &[0x20, 0x01, 0x06, 0x46, 0x6f, 0x6f, 0x42, 0x61, 0x72],
            ),
            (
                ControlBlock::AddChannelResponse {
                    channel: 2,
                    rejected: true,
                    encoding: HandshakeEncoding::Delta,
                    handshake: Bytes::from_static(b"Hello"),
                },
                &[0x31, 0x02, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
            ),
            (
                ControlBlock::DropChannel {
                    channel: 1,
                    reason: None,
                },
                &[0x60, 0x01, 0x00],
            ),
            (
                ControlBlock::DropChannel {
                    channel: 1,
                    reason: Some(DropReason {
                        code: 2000,
                        message: "error".into(),
                    }),
                },
                &[0x60, 0x01, 0x07, 0x07, 0xd0, 0x65, 0x72, 0x72, 0x6f, 0x72],
            ),
            (
                ControlBlock::DropChannel {
                    channel: 2,
                    reason: Some(DropReason {
                        code: 1000,
                        message: "Success".into(),
                    }),
                },
                &[
                    0x60, 0x02, 0x09, 0x03, 0xe8, 0x53, 0x75, 0x63, 0x63, 0x65, 0x73, 0x73,
                ],
            ),
            (
                ControlBlock::FlowControl {
                    channel: 1,
                    quota: 2,
                },
                &[0x40, 0x01, 0x02],
            ),
            (
                ControlBlock::FlowControl {
                    channel: 1,
                    quota: 8192,
                },
                &[0x40, 0x01, 0x7e, 0x20, 0x00],
            ),
            (
                ControlBlock::NewChannelSlot {
                    slots: 64,
                    quota: 8192,
                    fallback: false,
                },
                &[0x80, 0x40, 0x7e, 0x20, 0x00],
            ),
        ];
        for (block, bytes) in cases {
            assert_eq!(enc(&block), bytes, "encode {block:?}");
            assert_eq!(
                ControlBlock::decode(bytes).unwrap(),
                (block.clone(), bytes.len()),
                "decode {bytes:02x?}"
            );
        }
    }

    #[test]
    fn several_blocks_in_one_payload() {
        let bytes = [0x40, 0x01, 0x7e, 0x20, 0x00, 0x80, 0x40, 0x7e, 0x20, 0x00];
        let blocks = ControlBlock::decode_all(&bytes).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].kind(), "FlowControl");
        assert_eq!(blocks[1].kind(), "NewChannelSlot");
    }

    #[test]
    fn malformed_blocks_have_the_right_codes() {
        let code = |b: &[u8]| ControlBlock::decode_all(b).unwrap_err().code;
        assert_eq!(code(&[0xa0]), drop_code::UNKNOWN_MUX_OPCODE);
        assert_eq!(code(&[0xe0, 0x01]), drop_code::UNKNOWN_MUX_OPCODE);
        assert_eq!(
            code(&[0x04, 0x02, 0x00]),
            drop_code::INVALID_MUX_CONTROL_BLOCK
        );
        assert_eq!(
            code(&[0x02, 0x02, 0x00]),
            drop_code::UNKNOWN_REQUEST_ENCODING
        );
        assert_eq!(
            code(&[0x23, 0x02, 0x00]),
            drop_code::UNKNOWN_RESPONSE_ENCODING
        );
        assert_eq!(
            code(&[0x41, 0x01, 0x02]),
            drop_code::INVALID_MUX_CONTROL_BLOCK
        );
        assert_eq!(code(&[0x40, 0x01]), drop_code::INVALID_MUX_CONTROL_BLOCK);
        assert_eq!(
            code(&[0x40, 0x01, 0x7e, 0x00, 0x7d]),
            drop_code::INVALID_MUX_CONTROL_BLOCK
        );
        assert_eq!(
            code(&[0x60, 0x01, 0x01, 0x03]),
            drop_code::INVALID_MUX_CONTROL_BLOCK
        );
        assert_eq!(
            code(&[0x60, 0x01, 0x05, 0x03]),
            drop_code::INVALID_MUX_CONTROL_BLOCK
        );
        assert_eq!(
            code(&[0x60, 0x01, 0x03, 0x03, 0xe8, 0xff]),
            drop_code::INVALID_MUX_CONTROL_BLOCK
        );
        assert_eq!(
            code(&[0x82, 0x00, 0x00]),
            drop_code::INVALID_MUX_CONTROL_BLOCK
        );
        assert_eq!(code(&[0x00, 0x80]), drop_code::INVALID_MUX_CONTROL_BLOCK);
        assert_eq!(
            code(&[0x00, 0x02, 0x7f]),
            drop_code::INVALID_MUX_CONTROL_BLOCK
        );
    }

    #[test]
    fn fallback_slot_and_direction_rules() {
        let b = ControlBlock::decode(&[0x81, 0x00, 0x00]).unwrap().0;
        assert_eq!(
            b,
            ControlBlock::NewChannelSlot {
                slots: 0,
                quota: 0,
                fallback: true
            }
        );
        assert!(!b.allowed_from_client());
        assert!(b.allowed_from_server());
        let req = ControlBlock::AddChannelRequest {
            channel: 2,
            encoding: HandshakeEncoding::Identity,
            handshake: Bytes::new(),
        };
        assert!(req.allowed_from_client());
        assert!(!req.allowed_from_server());
    }
}
