//! Lazily created compression state for one direction of one connection.
//! State is created on first use; where the agreement resets the direction
//! per message it goes back to the [`DeflatePool`] when the message ends,
//! and it always goes back when the connection's codec is dropped.

use tracing::debug;

use crate::backend::{BackendError, Deflater, DeflaterParams, InflateEnd, Inflater};
use crate::pool::DeflatePool;

/// The compressor of one connection.
#[derive(Debug)]
pub(crate) struct CompressorSlot {
    state: Option<Deflater>,
    params: DeflaterParams,
    /// No context takeover: release the state after every message.
    per_message: bool,
    pool: DeflatePool,
}

impl CompressorSlot {
    pub(crate) fn new(params: DeflaterParams, per_message: bool, pool: DeflatePool) -> Self {
        Self {
            state: None,
            params,
            per_message,
            pool,
        }
    }

    /// The compressor, created or taken from the pool on first use.
    pub(crate) fn get(&mut self) -> &mut Deflater {
        let (pool, params) = (&self.pool, self.params);
        self.state.get_or_insert_with(|| pool.take_deflater(params))
    }

    /// A message was sent. Without context takeover the state goes back to
    /// the pool.
    pub(crate) fn end_message(&mut self) {
        if self.per_message {
            if let Some(d) = self.state.take() {
                self.pool.put_deflater(d);
            }
        }
    }

    /// The compressor saw data the peer will not: forget it. A sender that
    /// resets is always decodable by a receiver that keeps its window.
    pub(crate) fn discard_context(&mut self) {
        if self.per_message {
            if let Some(d) = self.state.take() {
                self.pool.put_deflater(d);
            }
        } else if let Some(d) = &mut self.state {
            d.reset();
        }
    }

    /// Whether state is held right now.
    pub(crate) fn is_allocated(&self) -> bool {
        self.state.is_some()
    }
}

impl Drop for CompressorSlot {
    fn drop(&mut self) {
        if let Some(d) = self.state.take() {
            self.pool.put_deflater(d);
        }
    }
}

/// The decompressor of one connection.
#[derive(Debug)]
pub(crate) struct DecompressorSlot {
    state: Option<Inflater>,
    per_message: bool,
    pool: DeflatePool,
}

impl DecompressorSlot {
    pub(crate) fn new(per_message: bool, pool: DeflatePool) -> Self {
        Self {
            state: None,
            per_message,
            pool,
        }
    }

    /// The decompressor, created or taken from the pool on first use.
    pub(crate) fn get(&mut self) -> &mut Inflater {
        let pool = &self.pool;
        self.state.get_or_insert_with(|| pool.take_inflater())
    }

    /// A message was received. `force_reset` after a BFINAL block (the
    /// peer's DEFLATE stream ended, so the next message starts a new one).
    pub(crate) fn end_message(&mut self, force_reset: bool) {
        if self.per_message {
            if let Some(i) = self.state.take() {
                self.pool.put_inflater(i);
            }
        } else if force_reset {
            if let Some(i) = &mut self.state {
                i.reset();
            }
        }
    }

    /// Inflate `input` into `out` (at most `limit` bytes). A BFINAL block
    /// ends the peer's DEFLATE stream: what follows is read by a fresh
    /// inflater, and `stream_ended` is set so the message end resets it.
    pub(crate) fn feed(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
        stream_ended: &mut bool,
    ) -> Result<(), BackendError> {
        while !input.is_empty() {
            let inflater = self.get();
            match inflater.inflate(input, out, limit)? {
                InflateEnd::Consumed => break,
                InflateEnd::StreamEnd(n) => {
                    debug!("BFINAL block: the peer's DEFLATE stream ended");
                    *stream_ended = true;
                    inflater.reset();
                    input = &input[n..];
                }
            }
        }
        Ok(())
    }

    /// Drop the state after an error (it is never reused).
    pub(crate) fn poison(&mut self) {
        self.state = None;
    }

    /// Whether state is held right now.
    pub(crate) fn is_allocated(&self) -> bool {
        self.state.is_some()
    }
}

impl Drop for DecompressorSlot {
    fn drop(&mut self) {
        if let Some(i) = self.state.take() {
            self.pool.put_inflater(i);
        }
    }
}
