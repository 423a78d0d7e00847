//! How both adapters size their reads: a frame in progress is read in steps
//! that grow with what it still needs, up to [`MAX_RESERVE_STEP`], never the
//! length its header announces up front (a hostile peer announcing 64 MiB and
//! trickling bytes costs at most one step beyond what it actually sent).

/// Bytes read per call between frames, and the smallest step for a frame in
/// progress.
pub(crate) const READ_CHUNK: usize = 16 * 1024;

/// The most room made for one read of a frame in progress.
pub(crate) const MAX_RESERVE_STEP: usize = 4 << 20;

/// Room to make in the read buffer for the next read, when the frame in
/// progress needs `need` more bytes.
pub(crate) fn read_step(need: usize) -> usize {
    need.clamp(READ_CHUNK, MAX_RESERVE_STEP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_bounded_both_ways() {
        assert_eq!(read_step(0), READ_CHUNK);
        assert_eq!(read_step(100_000), 100_000);
        assert_eq!(read_step(64 << 20), MAX_RESERVE_STEP);
        assert_eq!(read_step(usize::MAX), MAX_RESERVE_STEP);
    }
}
