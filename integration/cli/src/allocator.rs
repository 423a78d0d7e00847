//! Giving memory freed by hibernation back to the OS.
//!
//! Hibernation ([`wsx::WebSocketConfig::hibernate_after`]) frees a quiet
//! connection's compressor (~370 KiB) and decompressor (~46 KiB) and the
//! windows kept while it was busy. glibc reuses memory freed inside its
//! heap but does not give it back to the OS by itself, so after a busy
//! spell the server's RSS would stay at its peak (measured: 60 KiB per idle
//! hibernated connection instead of 40, 1000 connections). `malloc_trim`
//! returns the free pages. The server calls it every [`PERIOD`] on a
//! blocking thread; on a heap of a few hundred MiB it takes milliseconds.
//! Other allocators (musl, jemalloc, mimalloc) return memory themselves.

use std::time::Duration;

/// How often freed memory is handed back.
pub const PERIOD: Duration = Duration::from_secs(2);

/// Start the periodic trim (glibc only; elsewhere nothing to do).
pub fn spawn_trimmer() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    tokio::spawn(async {
        let mut tick = tokio::time::interval(PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            // SAFETY: malloc_trim only releases free pages of the heap.
            let _ = tokio::task::spawn_blocking(|| unsafe { libc::malloc_trim(0) }).await;
        }
    });
}
