//! The write queue: encoded frames waiting to be written, with large
//! payloads kept as their own [`Bytes`] so they are written without a copy
//! (vectored writes).

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};

/// Payloads at least this long are queued by reference instead of copied.
pub const ZERO_COPY_THRESHOLD: usize = 16 * 1024;

/// Bytes waiting to be written, in order: `chunks` first, then `tail`.
#[derive(Debug, Default)]
pub struct OutBuf {
    chunks: VecDeque<Bytes>,
    tail: BytesMut,
    len: usize,
}

impl OutBuf {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes not yet written.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Nothing to write.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The small-write buffer, for encoding headers and small payloads in
    /// place. Call [`OutBuf::commit`] with how many bytes were added.
    pub(crate) fn tail_mut(&mut self) -> &mut BytesMut {
        &mut self.tail
    }

    /// Account for `n` bytes appended through [`OutBuf::tail_mut`].
    pub(crate) fn commit(&mut self, n: usize) {
        self.len += n;
    }

    /// Queue a payload by reference (after whatever is in the tail).
    pub fn push_bytes(&mut self, b: Bytes) {
        if b.is_empty() {
            return;
        }
        if !self.tail.is_empty() {
            let t = self.tail.split().freeze();
            self.chunks.push_back(t);
        }
        self.len += b.len();
        self.chunks.push_back(b);
    }

    /// Fill `dst` with the next slices to write; returns how many.
    pub fn io_slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for c in &self.chunks {
            if n == dst.len() {
                return n;
            }
            dst[n] = IoSlice::new(c);
            n += 1;
        }
        if n < dst.len() && !self.tail.is_empty() {
            dst[n] = IoSlice::new(&self.tail);
            n += 1;
        }
        n
    }

    /// The first contiguous slice to write.
    pub fn first_slice(&self) -> &[u8] {
        match self.chunks.front() {
            Some(c) => c,
            None => &self.tail,
        }
    }

    /// Drop `n` written bytes from the front.
    pub fn advance(&mut self, mut n: usize) {
        self.len -= n;
        while n > 0 {
            match self.chunks.front_mut() {
                Some(c) if c.len() <= n => {
                    n -= c.len();
                    self.chunks.pop_front();
                }
                Some(c) => {
                    c.advance(n);
                    return;
                }
                None => {
                    self.tail.advance(n);
                    return;
                }
            }
        }
        if self.len == 0 {
            // Reuse the tail's allocation from its start.
            self.tail.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_keep_order_and_advance_across_chunks() {
        let mut o = OutBuf::new();
        o.tail_mut().extend_from_slice(b"ab");
        o.commit(2);
        o.push_bytes(Bytes::from_static(b"cdef"));
        o.tail_mut().extend_from_slice(b"gh");
        o.commit(2);
        assert_eq!(o.len(), 8);
        let mut s = [IoSlice::new(&[]); 8];
        let n = o.io_slices(&mut s);
        let all: Vec<u8> = s[..n].iter().flat_map(|x| x.iter().copied()).collect();
        assert_eq!(all, b"abcdefgh");
        o.advance(3);
        assert_eq!(o.first_slice(), b"def");
        o.advance(4);
        assert_eq!(o.first_slice(), b"h");
        o.advance(1);
        assert!(o.is_empty());
    }
}
