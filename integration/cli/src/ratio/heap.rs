//! Heap in use, for the memory-per-connection figures.

/// Bytes of heap in use (main arena plus mmapped chunks), from glibc's
/// `mallinfo2`. The caller runs on the main thread, whose allocations use
/// the main arena.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn in_use() -> Option<usize> {
    // SAFETY: mallinfo2 takes no arguments and returns a plain struct
    // (glibc ≥ 2.33).
    let m = unsafe { libc::mallinfo2() };
    Some(m.uordblks + m.hblkhd)
}

/// The process RSS in bytes, from /proc (Linux), else unknown.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn in_use() -> Option<usize> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
