//! The permessage-deflate codec (RFC 7692 §6, §7.2): frame by frame, in
//! both directions.
//!
//! Send ([`PmdEncoder`]): the first frame of a compressed message carries
//! RSV1; every frame's payload is compressed and sync-flushed as it passes,
//! and the final frame's `00 00 ff ff` is stripped (an empty remainder is
//! sent as `00`). Control frames pass untouched. A message sent in one frame
//! that is under the threshold, or that compression would not shrink, goes
//! uncompressed; in the latter case a kept context is reset so the
//! compressor never refers to bytes the peer did not receive.
//!
//! Receive ([`PmdDecoder`]): RSV1 on a control or continuation frame fails
//! with 1002. Compressed payloads are inflated as each frame arrives, the
//! trailer is appended after the final frame, and output stops at the
//! message budget (1009). Corrupt data fails with 1007
//! ([`ExtensionError::InvalidData`]). A BFINAL block ends the peer's DEFLATE
//! stream: whatever follows in the message is read by a fresh inflater, and
//! the next message starts afresh too.

use bytes::Bytes;
use tracing::trace;
use ws_ext_core::{Decoder, Encoder, EncodingKey, ExtensionError, Frame, OpCode, RsvBits};

use crate::backend::{BackendError, Compressor, BACKEND, SYNC_TRAILER};
use crate::state::{CompressorSlot, DecompressorSlot};

/// Strip the sync-flush trailer of a final frame's output. Nothing at all
/// (a flush right after a flush) stands for an empty stored block: `00`.
pub(crate) fn finish_output(out: &[u8]) -> Result<Bytes, BackendError> {
    if out.is_empty() {
        return Ok(Bytes::from_static(&[0x00]));
    }
    match out.strip_suffix(&SYNC_TRAILER[..]) {
        Some(body) if !body.is_empty() => Ok(Bytes::copy_from_slice(body)),
        Some(_) => Ok(Bytes::from_static(&[0x00])),
        None => Err(BackendError::Compress(
            "sync flush did not end with 00 00 ff ff".to_owned(),
        )),
    }
}

pub(crate) fn backend_error(ext: &str, e: BackendError) -> ExtensionError {
    match e {
        BackendError::Compress(m) => ExtensionError::internal(ext, m),
        BackendError::Corrupt(m) => {
            ExtensionError::invalid_data(ext, format!("corrupt compressed data: {m}"))
        }
        BackendError::TooBig(limit) => ExtensionError::MessageTooBig { limit },
    }
}

/// Settings both halves of the codec share.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SendPolicy {
    pub threshold: usize,
    pub skip_if_not_smaller: bool,
    /// False when the backend cannot honour the agreed window.
    pub enabled: bool,
}

/// The send half of permessage-deflate.
#[derive(Debug)]
pub struct PmdEncoder {
    name: &'static str,
    slot: CompressorSlot,
    policy: SendPolicy,
    /// Inside a data message: whether it is being compressed.
    message: Option<bool>,
}

impl PmdEncoder {
    pub(crate) fn new(name: &'static str, slot: CompressorSlot, policy: SendPolicy) -> Self {
        Self {
            name,
            slot,
            policy,
            message: None,
        }
    }

    /// Whether this half holds compressor state right now (with no context
    /// takeover, only while a message is being sent).
    pub fn holds_state(&self) -> bool {
        self.slot.is_allocated()
    }

    /// Whether this half is hibernated: its window packed, no compressor
    /// held ([`Encoder::hibernate`]).
    pub fn is_hibernated(&self) -> bool {
        self.slot.is_hibernated()
    }

    fn compress(&mut self, payload: &[u8], fin: bool) -> Result<Bytes, ExtensionError> {
        let name = self.name;
        let out = self
            .slot
            .get()
            .and_then(|d| d.compress_sync(payload))
            .map_err(|e| backend_error(name, e))?;
        if fin {
            finish_output(out).map_err(|e| backend_error(name, e))
        } else {
            Ok(Bytes::copy_from_slice(out))
        }
    }
}

impl Encoder for PmdEncoder {
    fn encode(&mut self, mut frame: Frame) -> Result<Frame, ExtensionError> {
        if frame.opcode.is_control() {
            return Ok(frame);
        }
        let compressing = if frame.is_message_start() {
            let c = self.policy.enabled && frame.payload.len() >= self.policy.threshold;
            self.message = Some(c);
            c
        } else if frame.opcode == OpCode::Continuation {
            match self.message {
                Some(c) => c,
                None => return Ok(frame), // no message open: the engine's to reject
            }
        } else {
            return Ok(frame); // reserved data opcodes: not ours
        };
        if !compressing {
            if frame.fin {
                self.message = None;
            }
            return Ok(frame);
        }
        let out = self.compress(&frame.payload, frame.fin)?;
        if frame.fin {
            self.message = None;
            if frame.is_message_start()
                && self.policy.skip_if_not_smaller
                && out.len() >= frame.payload.len()
            {
                trace!(
                    len = frame.payload.len(),
                    compressed = out.len(),
                    "compression does not shrink the message; sent uncompressed"
                );
                self.slot.discard_context();
                return Ok(frame);
            }
            self.slot.end_message();
        }
        if frame.is_message_start() {
            frame.rsv |= RsvBits::RSV1;
        }
        frame.payload = out;
        Ok(frame)
    }

    fn hibernate(&mut self) {
        if self.message.is_none() {
            self.slot.hibernate();
        }
    }

    /// Without context takeover for our direction (a server with
    /// `server_no_context_takeover`, a client with
    /// `client_no_context_takeover`) every message is compressed from an
    /// empty window by a compressor that goes back to the pool after it:
    /// the output depends on the message and the settings only. The key
    /// names them all: the compressor, level, window bits, memLevel,
    /// threshold, `skip_if_not_smaller`, and whether compression is on at
    /// all. With context takeover: `None`.
    fn shared_key(&self) -> Option<EncodingKey> {
        self.slot.is_per_message().then(|| self.key("nct"))
    }

    /// With context takeover for our direction: the same settings as
    /// [`Encoder::shared_key`] names. A compressor that starts from an
    /// empty window refers only to what it compressed since, so its
    /// frames are valid for every peer that received exactly them.
    fn cohort_key(&self) -> Option<EncodingKey> {
        (!self.slot.is_per_message()).then(|| self.key("ctx"))
    }

    fn fresh(&self) -> Option<Box<dyn Encoder>> {
        Some(Box::new(PmdEncoder::new(
            self.name,
            self.slot.fresh(),
            self.policy,
        )))
    }

    /// The compressor goes back to the pool, with its window: the next
    /// message starts from an empty one (what a peer that keeps its window
    /// can always decode).
    fn reset(&mut self) {
        if self.message.is_none() {
            self.slot.forget();
        }
    }
}

impl PmdEncoder {
    /// The canonical text of our settings, for the sharing keys.
    fn key(&self, mode: &str) -> EncodingKey {
        let p = self.slot.params();
        // The zlib family: which one is compiled in.
        let compressor = match p.compressor {
            Compressor::Zlib => BACKEND,
            other => other.name(),
        };
        EncodingKey::new(format!(
            "{};{mode};backend={compressor};l={};w={};m={};t={};s={};on={}",
            self.name,
            p.level,
            p.window_bits,
            p.mem_level,
            self.policy.threshold,
            u8::from(self.policy.skip_if_not_smaller),
            u8::from(self.policy.enabled),
        ))
    }
}

/// The receive half of permessage-deflate.
#[derive(Debug)]
pub struct PmdDecoder {
    name: &'static str,
    slot: DecompressorSlot,
    message: RecvMessage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecvMessage {
    /// Between messages.
    Idle,
    /// An uncompressed message is open.
    Plain,
    /// A compressed message is open.
    Compressed {
        /// Compressed bytes received so far.
        fed: usize,
        /// A BFINAL block ended the DEFLATE stream in this message.
        stream_ended: bool,
    },
}

impl PmdDecoder {
    pub(crate) fn new(name: &'static str, slot: DecompressorSlot) -> Self {
        Self {
            name,
            slot,
            message: RecvMessage::Idle,
        }
    }

    /// Whether this half holds decompressor state right now (with no
    /// context takeover by the peer, only while a message is received).
    pub fn holds_state(&self) -> bool {
        self.slot.is_allocated()
    }

    /// Whether this half is hibernated: the peer's window packed, no
    /// decompressor held ([`Decoder::hibernate`]).
    pub fn is_hibernated(&self) -> bool {
        self.slot.is_hibernated()
    }

    fn protocol(&self, reason: &str) -> ExtensionError {
        ExtensionError::protocol(self.name, reason)
    }
}

impl Decoder for PmdDecoder {
    fn decode(&mut self, mut frame: Frame, budget: usize) -> Result<Frame, ExtensionError> {
        let rsv1 = frame.rsv.contains(RsvBits::RSV1);
        if frame.opcode.is_control() {
            if rsv1 {
                return Err(self.protocol("RSV1 set on a control frame"));
            }
            return Ok(frame);
        }
        let (mut fed, mut stream_ended) = match frame.opcode {
            OpCode::Text | OpCode::Binary => {
                if !rsv1 {
                    self.message = if frame.fin {
                        RecvMessage::Idle
                    } else {
                        RecvMessage::Plain
                    };
                    return Ok(frame);
                }
                (0, false)
            }
            OpCode::Continuation => {
                if rsv1 {
                    return Err(self.protocol("RSV1 set on a continuation frame"));
                }
                match self.message {
                    RecvMessage::Compressed { fed, stream_ended } => (fed, stream_ended),
                    RecvMessage::Plain | RecvMessage::Idle => {
                        if frame.fin {
                            self.message = RecvMessage::Idle;
                        }
                        return Ok(frame);
                    }
                }
            }
            _ => {
                if rsv1 {
                    return Err(self.protocol("RSV1 set on a frame with a reserved opcode"));
                }
                return Ok(frame);
            }
        };
        fed += frame.payload.len();
        // An entirely empty compressed message never touches the inflater:
        // `00 00 ff ff` alone would leave it mid-block.
        let trailer = frame.fin && fed > 0;
        let result = self
            .slot
            .inflate_frame(&frame.payload, trailer, budget, &mut stream_ended);
        let out = match result {
            Ok(out) => out,
            Err(e) => {
                self.slot.poison();
                self.message = RecvMessage::Idle;
                return Err(backend_error(self.name, e));
            }
        };
        if frame.fin {
            self.message = RecvMessage::Idle;
            self.slot.end_message(stream_ended);
        } else {
            self.message = RecvMessage::Compressed { fed, stream_ended };
        }
        frame.rsv = frame.rsv & !RsvBits::RSV1;
        frame.payload = out;
        Ok(frame)
    }

    fn hibernate(&mut self) {
        if self.message == RecvMessage::Idle {
            self.slot.hibernate();
        }
    }
}
