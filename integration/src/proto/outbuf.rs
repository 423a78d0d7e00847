//! The write queue: encoded frames waiting to be written, with large
//! payloads kept as their own [`Bytes`] so they are written without a copy
//! (vectored writes).

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};

/// Payloads at least this long are queued by reference instead of copied.
pub const ZERO_COPY_THRESHOLD: usize = 16 * 1024;

/// With a vectored writer, an unmasked payload at least this long that
/// starts an empty queue is also queued by reference: it is about to be
/// written on its own (an echo, a reply), so copying it would only cost a
/// buffer and a copy. Smaller ones, and those queued behind others, are
/// copied so that batches stay contiguous.
pub const BY_REF_WHEN_FIRST: usize = 256;

/// Chunk slots a drained queue keeps (a few pointers, not payload memory).
const KEEP_CHUNK_SLOTS: usize = 4;

/// Bytes waiting to be written, in order: `chunks` first, then `tail`.
///
/// A drained queue gives back its buffer, so an idle connection holds no
/// write memory.
#[derive(Debug, Default)]
pub struct OutBuf {
    chunks: VecDeque<Bytes>,
    tail: BytesMut,
    len: usize,
    vectored: bool,
}

impl OutBuf {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declare whether the writer takes several slices in one write
    /// (`poll_write_vectored`): then payloads that begin an empty queue are
    /// queued by reference (see [`BY_REF_WHEN_FIRST`]).
    pub fn set_vectored(&mut self, vectored: bool) {
        self.vectored = vectored;
    }

    /// Whether a payload of `len` bytes should be queued by reference rather
    /// than copied (payloads that need masking are always copied).
    pub fn by_reference(&self, len: usize) -> bool {
        len >= ZERO_COPY_THRESHOLD || (self.vectored && self.len == 0 && len >= BY_REF_WHEN_FIRST)
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

    /// Give back the memory of an empty queue: a connection whose queue
    /// has drained holds no write buffer (the next message allocates one of
    /// its own size).
    fn release(&mut self) {
        debug_assert!(self.len == 0);
        if self.tail.capacity() > 0 {
            self.tail = BytesMut::new();
        }
        if self.chunks.capacity() > KEEP_CHUNK_SLOTS {
            self.chunks = VecDeque::new();
        }
    }

    /// Bytes of buffer the queue holds beyond its pending bytes (for tests
    /// and diagnostics).
    pub fn spare_capacity(&self) -> usize {
        self.tail.capacity() - self.tail.len()
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
                    break;
                }
                None => {
                    self.tail.advance(n);
                    break;
                }
            }
        }
        if self.len == 0 {
            self.release();
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
        assert_eq!(o.tail.capacity(), 0, "a drained queue holds no buffer");
    }
}
