//! The clock CPU figures are timed with: this thread's CPU time where the
//! OS offers it (Linux, `CLOCK_THREAD_CPUTIME_ID`), so time spent waiting
//! for a core on a loaded machine does not count; else the wall clock.

use std::time::Duration;
#[cfg(not(target_os = "linux"))]
use std::time::Instant;

/// A started measurement.
#[derive(Debug, Clone, Copy)]
pub struct Stopwatch {
    #[cfg(target_os = "linux")]
    start: Duration,
    #[cfg(not(target_os = "linux"))]
    start: Instant,
}

/// This thread's CPU time so far (zero if the clock fails).
#[cfg(target_os = "linux")]
fn now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// The wall clock.
#[cfg(not(target_os = "linux"))]
fn now() -> Instant {
    Instant::now()
}

impl Stopwatch {
    /// Start now.
    pub fn start() -> Self {
        Stopwatch { start: now() }
    }

    /// Time since [`Stopwatch::start`].
    #[cfg(target_os = "linux")]
    pub fn elapsed(&self) -> Duration {
        now().saturating_sub(self.start)
    }

    /// Time since [`Stopwatch::start`].
    #[cfg(not(target_os = "linux"))]
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::Stopwatch;

    #[test]
    fn counts_work() {
        let w = Stopwatch::start();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        std::hint::black_box(x);
        assert!(w.elapsed().as_nanos() > 0);
    }
}
