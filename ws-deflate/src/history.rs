//! Context hibernation: what a context-takeover direction keeps while its
//! connection is quiet.
//!
//! With context takeover, the only thing the protocol needs carried from
//! one message to the next is the LZ77 window: the last `2^w` bytes of
//! plaintext that went through the stream (w = the agreed window bits).
//! Everything else a compressor or decompressor holds — zlib-rs' 128 KiB
//! hash table, the pending-output and symbol buffers, the decoding tables —
//! can be rebuilt from it. So a quiet direction keeps only its
//! [`History`], compressed into an [`Archive`] (chat-like JSON shrinks
//! 3–5x), and gives its compressor or decompressor back to the
//! [`crate::DeflatePool`]. When the next message comes, a pooled state is
//! primed with the history (zlib's set-dictionary) and carries on as if it
//! had never left: the bytes it emits or accepts reference exactly the
//! window the peer holds.

use crate::backend::{BackendError, Deflater, DeflaterParams, InflateEnd, Inflater, SYNC_TRAILER};
use crate::pool::DeflatePool;

/// The last `cap` bytes that went through one direction's stream: a ring
/// that grows only as far as data really went through.
#[derive(Debug, Default)]
pub(crate) struct History {
    buf: Vec<u8>,
    /// Once `buf` is full (`cap` bytes), the index of the oldest byte.
    start: usize,
    cap: usize,
}

impl History {
    /// An empty history keeping at most `cap` bytes.
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            cap,
        }
    }

    /// Append `data` (only its last `cap` bytes matter).
    pub(crate) fn push(&mut self, mut data: &[u8]) {
        if data.len() >= self.cap {
            data = &data[data.len() - self.cap..];
            self.buf.clear();
            self.buf.extend_from_slice(data);
            self.start = 0;
            return;
        }
        if self.buf.len() < self.cap {
            let room = self.cap - self.buf.len();
            let n = room.min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
            if data.is_empty() {
                return;
            }
        }
        // Full: overwrite the oldest bytes, wrapping once at most.
        let first = (self.cap - self.start).min(data.len());
        self.buf[self.start..self.start + first].copy_from_slice(&data[..first]);
        let rest = &data[first..];
        self.buf[..rest.len()].copy_from_slice(rest);
        self.start = (self.start + data.len()) % self.cap;
    }

    /// Forget everything (the stream was reset).
    pub(crate) fn clear(&mut self) {
        self.buf = Vec::new();
        self.start = 0;
    }

    /// Bytes held.
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// The bytes in stream order.
    pub(crate) fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.buf.len());
        v.extend_from_slice(&self.buf[self.start..]);
        v.extend_from_slice(&self.buf[..self.start]);
        v
    }

    /// Replace the contents with `data` (the last `cap` bytes of it).
    pub(crate) fn restore(&mut self, mut data: Vec<u8>) {
        if data.len() > self.cap {
            data.drain(..data.len() - self.cap);
        }
        self.buf = data;
        self.start = 0;
    }
}

/// The settings of the compressor that packs histories, whatever the
/// connection's own level: level 6 packs chat-like JSON windows ~30%
/// smaller than level 1 (30 KiB: 6.6 vs 9.5 KiB) and runs once per quiet
/// spell. It comes from the same pool (and is the default policy's own
/// compressor, so the pool serves both).
const ARCHIVE_PARAMS: DeflaterParams = DeflaterParams {
    level: 6,
    window_bits: 15,
    mem_level: 8,
};

/// A hibernated history: raw DEFLATE of the window bytes, or the bytes
/// themselves where compression does not pay.
#[derive(Debug)]
pub(crate) struct Archive {
    data: Box<[u8]>,
    raw_len: usize,
    compressed: bool,
}

impl Archive {
    /// Pack `history` with a pooled compressor (returned reset).
    pub(crate) fn pack(history: &History, pool: &DeflatePool) -> Result<Self, BackendError> {
        let raw = history.to_vec();
        let mut d: Deflater = pool.take_deflater(ARCHIVE_PARAMS);
        d.reset();
        let packed = d.compress_sync(&raw).map(|z| {
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
                data: raw.into_boxed_slice(),
                compressed: false,
            }
        })
    }

    /// The history bytes again, unpacked with a pooled decompressor.
    pub(crate) fn unpack(&self, pool: &DeflatePool) -> Result<Vec<u8>, BackendError> {
        if !self.compressed {
            return Ok(self.data.to_vec());
        }
        let mut i: Inflater = pool.take_inflater();
        i.reset();
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

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.data.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_last_cap_bytes_in_order() {
        let mut h = History::new(10);
        let mut all = Vec::new();
        for (i, n) in [3usize, 4, 5, 1, 9, 12, 2, 10, 0, 7].iter().enumerate() {
            let chunk: Vec<u8> = (0..*n).map(|k| (i * 16 + k) as u8).collect();
            h.push(&chunk);
            all.extend_from_slice(&chunk);
            let want = &all[all.len().saturating_sub(10)..];
            assert_eq!(h.to_vec(), want, "after chunk {i}");
            assert_eq!(h.len(), want.len());
        }
        h.clear();
        assert_eq!(h.len(), 0);
    }

    #[test]
    fn archive_round_trips() {
        let pool = DeflatePool::new(2);
        let mut h = History::new(1 << 15);
        for i in 0..3000 {
            h.push(format!("{{\"id\":{i},\"text\":\"hello number {i}\"}}").as_bytes());
        }
        let a = Archive::pack(&h, &pool).unwrap();
        assert!(a.compressed && a.heap_bytes() < h.len() / 3);
        assert_eq!(a.unpack(&pool).unwrap(), h.to_vec());
        // Incompressible bytes are kept as they are.
        let mut h = History::new(4096);
        let mut x = 0x1234_5678u32;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        h.push(&noise);
        let a = Archive::pack(&h, &pool).unwrap();
        assert!(!a.compressed);
        assert_eq!(a.unpack(&pool).unwrap(), noise);
    }
}
