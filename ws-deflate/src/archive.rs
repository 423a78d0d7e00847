//! Context hibernation: what a context-takeover direction keeps while its
//! connection is quiet.
//!
//! With context takeover, the only thing the protocol needs carried from
//! one message to the next is the LZ77 window: the last `2^w` bytes of
//! plaintext that went through the stream (w = the agreed window bits).
//! Everything else a compressor or decompressor holds — hash tables, the
//! pending-output and symbol buffers, the decoding tables —
//! can be rebuilt from it. So a quiet direction takes its window from its
//! compressor or decompressor (zlib's get-dictionary), keeps it packed in
//! an [`Archive`] (chat-like JSON shrinks 4–5x), and gives the state back
//! to the [`crate::DeflatePool`]. When the next message comes, a pooled state is
//! primed with the history (zlib's set-dictionary) and carries on as if it
//! had never left: the bytes it emits or accepts reference exactly the
//! window the peer holds.

use crate::backend::{
    BackendError, Compressor, Deflater, DeflaterParams, InflateEnd, Inflater, SYNC_TRAILER,
};
use crate::pool::DeflatePool;

/// The settings of the compressor that packs windows, whatever the
/// connection's own level: level 6 packs chat-like JSON windows ~30%
/// smaller than level 1 (30 KiB: 6.6 vs 9.5 KiB, measured with zlib-rs)
/// and runs once per quiet spell. It comes from the same pool as the
/// connections' compressors.
const ARCHIVE_PARAMS: DeflaterParams = DeflaterParams {
    level: 6,
    window_bits: 15,
    mem_level: 8,
    compressor: Compressor::Native,
    tune: None,
};

/// A hibernated window: raw DEFLATE of its bytes, or the bytes themselves
/// where compression does not pay.
#[derive(Debug)]
pub(crate) struct Archive {
    data: Box<[u8]>,
    raw_len: usize,
    compressed: bool,
}

impl Archive {
    /// Pack `window` with a pooled compressor (the pool hands out fresh or
    /// reset state and resets what it takes back).
    pub(crate) fn pack(window: &[u8], pool: &DeflatePool) -> Result<Self, BackendError> {
        let raw = window;
        let mut d: Deflater = pool.take_deflater(ARCHIVE_PARAMS);
        let packed = d.compress_sync(raw).map(|z| {
            // The sync-flush trailer is stripped and appended again on
            // unpacking, as permessage-deflate does.
            let body = z.strip_suffix(&SYNC_TRAILER[..]).unwrap_or(z);
            body.to_vec()
        });
        pool.put_deflater(d);
        let packed = packed?;
        Ok(if packed.len() < raw.len() {
            Archive {
                data: packed.into_boxed_slice(),
                raw_len: raw.len(),
                compressed: true,
            }
        } else {
            Archive {
                raw_len: raw.len(),
                data: raw.into(),
                compressed: false,
            }
        })
    }

    /// The window bytes again, unpacked with a pooled decompressor.
    pub(crate) fn unpack(&self, pool: &DeflatePool) -> Result<Vec<u8>, BackendError> {
        if !self.compressed {
            return Ok(self.data.to_vec());
        }
        let mut i: Inflater = pool.take_inflater();
        let mut out = Vec::with_capacity(self.raw_len);
        let mut r = i.inflate(&self.data, &mut out, self.raw_len);
        if let Ok(InflateEnd::Consumed) = r {
            r = i.inflate(&SYNC_TRAILER, &mut out, self.raw_len);
        }
        pool.put_inflater(i);
        match r {
            Ok(InflateEnd::Consumed) if out.len() == self.raw_len => Ok(out),
            Ok(_) => Err(BackendError::Compress(
                "a hibernated window did not unpack to its own length".to_owned(),
            )),
            Err(e) => Err(BackendError::Compress(format!(
                "a hibernated window did not unpack: {e}"
            ))),
        }
    }

    /// Hibernate a window: `None` when there is nothing to keep (the
    /// stream is fresh), else the packed window. `what` names the state in
    /// the trace.
    pub(crate) fn of_window(
        window: &[u8],
        pool: &DeflatePool,
        what: &str,
    ) -> Result<Option<Self>, BackendError> {
        if window.is_empty() {
            return Ok(None);
        }
        let a = Self::pack(window, pool)?;
        tracing::trace!(
            window = window.len(),
            packed = a.heap_bytes(),
            "{what} hibernated"
        );
        Ok(Some(a))
    }

    /// Wake: unpack the window and hand it to `prime` (a pooled state's
    /// set-dictionary).
    pub(crate) fn restore(
        self,
        pool: &DeflatePool,
        what: &str,
        prime: impl FnOnce(&[u8]) -> Result<(), BackendError>,
    ) -> Result<(), BackendError> {
        let window = self.unpack(pool)?;
        prime(&window)?;
        tracing::trace!(bytes = window.len(), "{what} woken from hibernation");
        Ok(())
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.data.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_round_trips() {
        let pool = DeflatePool::new(2);
        let mut w = Vec::new();
        for i in 0..3000 {
            w.extend_from_slice(format!("{{\"id\":{i},\"text\":\"hello number {i}\"}}").as_bytes());
        }
        w.drain(..w.len() - (1 << 15));
        let a = Archive::pack(&w, &pool).unwrap();
        assert!(a.compressed && a.heap_bytes() < w.len() / 3);
        assert_eq!(a.unpack(&pool).unwrap(), w);
        // Incompressible bytes are kept as they are.
        let mut x = 0x1234_5678u32;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let a = Archive::pack(&noise, &pool).unwrap();
        assert!(!a.compressed);
        assert_eq!(a.unpack(&pool).unwrap(), noise);
    }
}
