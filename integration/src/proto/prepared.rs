//! A message encoded once and sent to many connections
//! ([`PreparedMessage`]), with no I/O: the frame bytes per
//! [`EncodingKey`], built on first need by the first connection with that
//! key and shared (as [`Bytes`] clones) by every later one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use tracing::trace;
use tungstenite::Message;
use ws_ext_core::{EncodingKey, Frame, OpCode, SendStack};

use crate::error::Error;
use crate::proto::cohort::{self, CohortFrame, CohortPos};
use crate::proto::frame::encode_raw;

/// A text or binary message prepared for sending to many connections.
///
/// Sending it ([`crate::WebSocketStream::send_prepared`]) on a **server**
/// connection whose send stack can share its output
/// ([`ws_ext_core::SendStack::encoding_key`] is `Some`: no extension, or
/// permessage-deflate with `server_no_context_takeover`, e.g.
/// [`ws_deflate::DeflateConfig::broadcast`]) writes the frame encoded for
/// that key: the first such connection encodes it, every later one with an
/// equal key queues the same bytes (a [`Bytes`] clone, no copy, no
/// compression). A server connection with context takeover writes the
/// frame its broadcast cohort's compressor wrote for it, when it follows
/// one (see [`crate::broadcast`]; [`PreparedMessage::cohort_encodings`]).
/// Every other connection (context takeover outside a cohort; a client,
/// which masks every frame with a fresh key) encodes the message the
/// ordinary way: correct, just not shared
/// ([`PreparedMessage::fallback_encodings`] counts them).
///
/// The encoded frames are kept as long as the message lives: one per
/// distinct key (in practice one or two: plain and compressed) and one per
/// cohort it was sent to. A shared
/// frame is queued by reference when the write queue would queue an
/// ordinary payload of that size by reference (large frames, or a frame
/// that starts an empty queue on a vectored socket); smaller ones are
/// copied into the write buffer (no compression, one `memcpy`) so that
/// small writes stay batched.
#[derive(Debug)]
pub struct PreparedMessage {
    message: Message,
    opcode: OpCode,
    payload: Bytes,
    /// Whole frames (header and payload), per key.
    frames: Mutex<Vec<(EncodingKey, Bytes)>>,
    /// Whole frames written by broadcast cohorts' compressors.
    cohort_frames: Mutex<Vec<CohortFrame>>,
    encodings: AtomicUsize,
    cohort_encodings: AtomicUsize,
    fallbacks: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while encoding leaves at most a missing entry behind.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl PreparedMessage {
    /// Prepare a text or binary message (anything else is
    /// [`Error::InvalidMessage`]). Nothing is encoded yet.
    pub fn new(message: Message) -> Result<Self, Error> {
        let (opcode, payload) = match &message {
            Message::Text(t) => (OpCode::Text, Bytes::from(t.clone())),
            Message::Binary(b) => (OpCode::Binary, b.clone()),
            other => {
                return Err(Error::InvalidMessage(format!(
                    "only text and binary messages can be prepared, not {}",
                    kind(other)
                )))
            }
        };
        Ok(PreparedMessage {
            message,
            opcode,
            payload,
            frames: Mutex::new(Vec::new()),
            cohort_frames: Mutex::new(Vec::new()),
            encodings: AtomicUsize::new(0),
            cohort_encodings: AtomicUsize::new(0),
            fallbacks: AtomicUsize::new(0),
        })
    }

    /// The message.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// How many times the message was encoded for sharing: once per
    /// distinct [`EncodingKey`] among the connections it was sent on.
    pub fn encodings(&self) -> usize {
        self.encodings.load(Ordering::Relaxed)
    }

    /// How many times a [`Broadcast`](crate::broadcast::Broadcast)
    /// cohort's compressor encoded it: once per cohort of context-takeover
    /// members it was sent to (see the [`broadcast`](crate::broadcast)
    /// module).
    pub fn cohort_encodings(&self) -> usize {
        self.cohort_encodings.load(Ordering::Relaxed)
    }

    /// How many connections encoded it on their own (their send stack
    /// can share neither a frame nor a cohort's: the client role, a
    /// connection outside a cohort, extensions that cannot share).
    pub fn fallback_encodings(&self) -> usize {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// The keys it is encoded for so far.
    pub fn keys(&self) -> Vec<EncodingKey> {
        lock(&self.frames).iter().map(|(k, _)| k.clone()).collect()
    }

    /// The unmasked frame (header and payload) for `key`, encoded through
    /// `stack` (whose key it is) the first time.
    pub(crate) fn shared_frame(
        &self,
        key: &EncodingKey,
        stack: &mut SendStack,
    ) -> Result<Bytes, Error> {
        // Held while encoding: concurrent senders with the same key wait
        // for the one encode instead of repeating it.
        let mut frames = lock(&self.frames);
        if let Some((_, b)) = frames.iter().find(|(k, _)| k == key) {
            return Ok(b.clone());
        }
        let frame = self.whole_frame();
        let frame = if stack.is_empty() {
            frame
        } else {
            stack.encode_detached(frame).map_err(Error::Encode)?
        };
        let wire = encode_raw(&frame, None).freeze();
        trace!(%key, len = self.payload.len(), wire = wire.len(), "message prepared");
        self.encodings.fetch_add(1, Ordering::Relaxed);
        frames.push((key.clone(), wire.clone()));
        Ok(wire)
    }

    /// The payload as one whole frame of its kind (text or binary).
    pub(crate) fn whole_frame(&self) -> Frame {
        Frame::new(true, self.opcode, self.payload.clone())
    }

    /// Hang frames written by cohorts' compressors on the message.
    pub(crate) fn add_cohort_frames(&self, frames: Vec<CohortFrame>) {
        if frames.is_empty() {
            return;
        }
        self.cohort_encodings
            .fetch_add(frames.len(), Ordering::Relaxed);
        lock(&self.cohort_frames).extend(frames);
    }

    /// The cohort frame a connection with `key` at `pos` may write
    /// ([`cohort::pick`]): its cohort, sequence number and bytes.
    pub(crate) fn cohort_frame(
        &self,
        key: &EncodingKey,
        pos: Option<CohortPos>,
    ) -> Option<(u64, u64, Bytes)> {
        let frames = lock(&self.cohort_frames);
        cohort::pick(&frames, key, pos).map(|f| (f.cohort, f.seq, f.wire.clone()))
    }

    /// A connection encoded it on its own.
    pub(crate) fn note_fallback(&self) {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
    }
}

fn kind(m: &Message) -> &'static str {
    match m {
        Message::Text(_) => "text",
        Message::Binary(_) => "binary",
        Message::Ping(_) => "a ping",
        Message::Pong(_) => "a pong",
        Message::Close(_) => "a close",
        Message::Frame(_) => "a raw frame",
    }
}

impl TryFrom<Message> for PreparedMessage {
    type Error = Error;
    fn try_from(m: Message) -> Result<Self, Error> {
        PreparedMessage::new(m)
    }
}
