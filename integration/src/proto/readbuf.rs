//! How both adapters size their reads. A frame in progress is read in
//! steps that grow with what has arrived (doubling, from [`READ_CHUNK`] up to
//! [`MAX_RESERVE_STEP`]) and never beyond what it still needs: never the
//! length its header announces up front. A hostile peer that announces a
//! 64 MiB frame and trickles bytes makes the read buffer a small multiple of
//! what it actually sent; a fast peer's large frame is still read in large
//! steps after a few doublings.

/// Bytes read per call between frames, and the smallest step for a frame in
/// progress.
pub(crate) const READ_CHUNK: usize = 16 * 1024;

/// The most room made for one read of a frame in progress.
pub(crate) const MAX_RESERVE_STEP: usize = 4 << 20;

/// Room to make in the read buffer for the next read, when it holds
/// `buffered` bytes and the frame in progress needs `need` more: at most
/// what is buffered (so the buffer at most doubles per read), at most
/// `need`, within [`READ_CHUNK`]..=[`MAX_RESERVE_STEP`].
pub(crate) fn read_step(need: usize, buffered: usize) -> usize {
    need.min(buffered.max(READ_CHUNK))
        .clamp(READ_CHUNK, MAX_RESERVE_STEP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_grow_with_what_arrived_not_with_what_is_announced() {
        // A header announcing 64 MiB, nothing else yet: one chunk.
        assert_eq!(read_step(64 << 20, 10), READ_CHUNK);
        // Doubling with what arrived.
        assert_eq!(read_step(64 << 20, 100_000), 100_000);
        assert_eq!(read_step(64 << 20, 32 << 20), MAX_RESERVE_STEP);
        // Never past what the frame still needs (but at least a chunk).
        assert_eq!(read_step(50_000, 1 << 20), 50_000);
        assert_eq!(read_step(0, 0), READ_CHUNK);
        assert_eq!(read_step(usize::MAX, usize::MAX), MAX_RESERVE_STEP);
    }
}
