//! Lazily created compression state for one direction of one connection.
//! State is created on first use; where the agreement resets the direction
//! per message it goes back to the [`DeflatePool`] when the message ends,
//! and it always goes back when the connection's codec is dropped.

use bytes::Bytes;
use tracing::debug;

use crate::archive::Archive;
use crate::backend::{
    BackendError, Deflater, DeflaterParams, InflateEnd, Inflater, CAN_HIBERNATE, SYNC_TRAILER,
};
use crate::pool::DeflatePool;

/// The compressor of one connection.
#[derive(Debug)]
pub(crate) struct CompressorSlot {
    state: Option<Deflater>,
    params: DeflaterParams,
    /// No context takeover: release the state after every message.
    per_message: bool,
    pool: DeflatePool,
    /// Context takeover with hibernation (where the backend can).
    hibernates: bool,
    /// Hibernated: the window, packed, while the state is in the pool.
    archive: Option<Archive>,
}

impl CompressorSlot {
    /// `hibernate`: keep the window so a quiet connection can give its
    /// compressor back ([`CompressorSlot::hibernate`]).
    pub(crate) fn new(
        params: DeflaterParams,
        per_message: bool,
        pool: DeflatePool,
        hibernate: bool,
    ) -> Self {
        Self {
            state: None,
            params,
            per_message,
            pool,
            hibernates: hibernate && !per_message && CAN_HIBERNATE,
            archive: None,
        }
    }

    /// The compressor, created or taken from the pool on first use, and
    /// primed with the hibernated window if there is one.
    pub(crate) fn get(&mut self) -> Result<&mut Deflater, BackendError> {
        if self.state.is_none() {
            let mut d = self.pool.take_deflater(self.params);
            if let Some(a) = self.archive.take() {
                a.restore(&self.pool, "compressor", |w| d.set_dictionary(w))?;
            }
            self.state = Some(d);
        }
        match &mut self.state {
            Some(d) => Ok(d),
            None => Err(BackendError::Compress("no compressor".to_owned())),
        }
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

    /// Forget the history and hold nothing: the compressor (if any) goes
    /// back to the pool and a hibernated window is dropped. The next
    /// message starts from an empty window, which any receiver can decode.
    pub(crate) fn forget(&mut self) {
        self.archive = None;
        if let Some(d) = self.state.take() {
            self.pool.put_deflater(d);
        }
    }

    /// A slot with the same settings, pool and hibernation, holding
    /// nothing.
    pub(crate) fn fresh(&self) -> Self {
        Self {
            state: None,
            params: self.params,
            per_message: self.per_message,
            pool: self.pool.clone(),
            hibernates: self.hibernates,
            archive: None,
        }
    }

    /// Between messages, on a quiet connection: pack the window and give
    /// the compressor back to the pool. The next [`CompressorSlot::get`]
    /// primes a pooled compressor with the window again. Does nothing
    /// without context takeover (state is pooled after every message
    /// already) or without hibernation.
    pub(crate) fn hibernate(&mut self) {
        if !self.hibernates {
            return;
        }
        let Some(d) = self.state.take() else {
            return;
        };
        match Archive::of_window(&d.dictionary(), &self.pool, "compressor") {
            Ok(a) => {
                self.archive = a;
                self.pool.put_deflater(d);
            }
            Err(e) => {
                debug!(error = %e, "could not pack the window; the compressor stays");
                self.state = Some(d);
            }
        }
    }

    /// Whether state is held right now.
    pub(crate) fn is_allocated(&self) -> bool {
        self.state.is_some()
    }

    /// No context takeover: every message starts from an empty window and
    /// the state goes back to the pool after it.
    pub(crate) fn is_per_message(&self) -> bool {
        self.per_message
    }

    /// The compressor's settings.
    pub(crate) fn params(&self) -> DeflaterParams {
        self.params
    }

    /// Whether the window is hibernated (packed, no compressor held).
    pub(crate) fn is_hibernated(&self) -> bool {
        self.archive.is_some()
    }
}

impl Drop for CompressorSlot {
    fn drop(&mut self) {
        if let Some(d) = self.state.take() {
            self.pool.put_deflater(d);
        }
    }
}

/// The first guess at the inflated size is the input times this.
const INITIAL_RATIO: usize = 4;
/// The size guess never assumes more expansion than this; beyond it the
/// output grows by doubling. Bounds what a peer can make us reserve.
const MAX_RATIO: usize = 16;

/// The decompressor of one connection.
#[derive(Debug)]
pub(crate) struct DecompressorSlot {
    state: Option<Inflater>,
    per_message: bool,
    pool: DeflatePool,
    /// Expected output bytes per input byte, learnt from the last frame.
    ratio: usize,
    /// Context takeover with hibernation (where the backend can).
    hibernates: bool,
    /// The most the peer's window reaches back, in bytes: all of the
    /// window hibernation needs to keep.
    window: usize,
    /// Hibernated: the window, packed, while the state is in the pool.
    archive: Option<Archive>,
}

impl DecompressorSlot {
    /// `window_bits`: the most the peer's compressor agreed to use (its
    /// window is what hibernation keeps).
    pub(crate) fn new(
        per_message: bool,
        pool: DeflatePool,
        hibernate: bool,
        window_bits: u8,
    ) -> Self {
        Self {
            state: None,
            per_message,
            pool,
            ratio: INITIAL_RATIO,
            hibernates: hibernate && !per_message && CAN_HIBERNATE,
            window: 1 << window_bits.clamp(9, 15),
            archive: None,
        }
    }

    /// Inflate one frame's `payload`, then (`trailer`) the sync-flush
    /// trailer `00 00 ff ff`, into at most `limit` bytes. The output space
    /// is reserved once from the input size and the ratio of the previous
    /// frame, so it rarely has to grow.
    pub(crate) fn inflate_frame(
        &mut self,
        payload: &[u8],
        trailer: bool,
        limit: usize,
        stream_ended: &mut bool,
    ) -> Result<Bytes, BackendError> {
        let in_len = payload.len() + if trailer { SYNC_TRAILER.len() } else { 0 };
        let guess = in_len
            .saturating_mul(self.ratio)
            .saturating_add(64)
            .min(limit);
        let mut out = Vec::with_capacity(guess);
        let mut result = self.feed(payload, &mut out, limit, stream_ended);
        if result.is_ok() && trailer {
            result = self.feed(&SYNC_TRAILER, &mut out, limit, stream_ended);
        }
        result?;
        if let Some(r) = out.len().checked_div(in_len) {
            self.ratio = (r + 1).clamp(2, MAX_RATIO);
        }
        Ok(Bytes::from(out))
    }

    /// The decompressor, created or taken from the pool on first use, and
    /// primed with the hibernated window if there is one.
    pub(crate) fn get(&mut self) -> Result<&mut Inflater, BackendError> {
        if self.state.is_none() {
            let mut i = self.pool.take_inflater();
            if let Some(a) = self.archive.take() {
                a.restore(&self.pool, "decompressor", |w| i.set_dictionary(w))?;
            }
            self.state = Some(i);
        }
        match &mut self.state {
            Some(i) => Ok(i),
            None => Err(BackendError::Compress("no decompressor".to_owned())),
        }
    }

    /// Between messages, on a quiet connection: pack the peer's window and
    /// give the decompressor back to the pool (see
    /// [`CompressorSlot::hibernate`]).
    pub(crate) fn hibernate(&mut self) {
        if !self.hibernates {
            return;
        }
        let Some(i) = self.state.take() else {
            return;
        };
        let window = i.dictionary();
        // Only as far back as the peer may refer.
        let window = &window[window.len().saturating_sub(self.window)..];
        match Archive::of_window(window, &self.pool, "decompressor") {
            Ok(a) => {
                self.archive = a;
                self.pool.put_inflater(i);
            }
            Err(e) => {
                debug!(error = %e, "could not pack the window; the decompressor stays");
                self.state = Some(i);
            }
        }
    }

    /// Whether the window is hibernated (packed, no decompressor held).
    pub(crate) fn is_hibernated(&self) -> bool {
        self.archive.is_some()
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
    fn feed(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
        stream_ended: &mut bool,
    ) -> Result<(), BackendError> {
        while !input.is_empty() {
            let inflater = self.get()?;
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
        self.archive = None;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn messages() -> Vec<Vec<u8>> {
        (0..200)
            .map(|i| {
                let n = [10usize, 300, 1000, 5000, 20_000, 100_000][i % 6];
                let mut m = Vec::new();
                while m.len() < n {
                    m.extend_from_slice(format!("{{\"id\":{i},\"n\":{}}},", m.len()).as_bytes());
                }
                m.truncate(n);
                m
            })
            .collect()
    }

    /// Messages of many sizes, with a learnt size guess that is sometimes
    /// short (the output grows) and sometimes long, inflate intact.
    #[test]
    fn inflates_intact_whatever_the_size_guess() {
        let mut d = Deflater::new(DeflaterParams {
            level: 6,
            window_bits: 15,
            mem_level: 8,
            compressor: crate::backend::Compressor::Native,
            tune: None,
        });
        let mut slot = DecompressorSlot::new(false, DeflatePool::new(0), true, 15);
        let mut held = Vec::new();
        for (i, m) in messages().iter().enumerate() {
            let z = d.compress_sync(m).unwrap();
            let payload = z.strip_suffix(&SYNC_TRAILER[..]).unwrap().to_vec();
            let mut ended = false;
            let out = slot
                .inflate_frame(&payload, true, usize::MAX, &mut ended)
                .unwrap();
            assert_eq!(&out[..], &m[..]);
            if i % 3 == 0 {
                held.push((out, m.clone()));
            }
        }
        for (out, m) in held {
            assert_eq!(out, m);
        }
    }

    /// The size guess never lets the output pass the limit.
    #[test]
    fn limit_is_exact_with_a_learnt_ratio() {
        let mut d = Deflater::new(DeflaterParams {
            level: 6,
            window_bits: 15,
            mem_level: 8,
            compressor: crate::backend::Compressor::Native,
            tune: None,
        });
        let mut slot = DecompressorSlot::new(false, DeflatePool::new(0), true, 15);
        let m = vec![b'a'; 50_000];
        for limit in [50_000, 49_999, 1000, 1] {
            d.reset();
            slot.poison();
            let z = d.compress_sync(&m).unwrap();
            let payload = z.strip_suffix(&SYNC_TRAILER[..]).unwrap().to_vec();
            let mut ended = false;
            let r = slot.inflate_frame(&payload, true, limit, &mut ended);
            if limit >= m.len() {
                assert_eq!(r.unwrap().len(), m.len());
            } else {
                assert!(matches!(r, Err(BackendError::TooBig(l)) if l == limit));
            }
        }
    }
}
