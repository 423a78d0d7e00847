//! Cohorts, with no I/O: connections whose compressor keeps history
//! (context takeover) served by **one** compressor per group of members
//! that were sent the same messages.
//!
//! A broadcast group ([`crate::broadcast::Broadcast`]) compresses each
//! message once per cohort, through a send stack of its own that started
//! with no history, and hangs the frames on the [`PreparedMessage`]
//! ([`CohortFrame`]: cohort, sequence number, bytes). A connection's
//! [`Sender`](crate::proto::send::Sender) writes a cohort's frame only
//! while its peer has received exactly that cohort's earlier frames, in
//! order, and no other data frame since it joined ([`CohortPos`]):
//!
//! - it **joins** at a cohort's first frame (sequence 0): that frame came
//!   from a compressor with no history, which any peer can decode, and it
//!   resets its own encoder (which then holds nothing);
//! - it **follows** while each message carries its cohort's next frame;
//! - it **leaves** on anything else: a message without its cohort's next
//!   frame (one was dropped, or the cohort was merged away), or a data
//!   message of its own. Its own encoder has had no history since it
//!   joined, so what it encodes next is valid too.
//!
//! Correctness rests on these local rules alone; the group's view of who
//! is in which cohort ([`Seat`]) only decides how many compressions it
//! runs.
//!
//! [`PreparedMessage`]: crate::proto::prepared::PreparedMessage

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use ws_ext_core::EncodingKey;

/// The frame one cohort's compressor wrote for a message.
#[derive(Debug, Clone)]
pub(crate) struct CohortFrame {
    /// The cohort (unique in the process, never 0).
    pub cohort: u64,
    /// Its place in the cohort's stream: 0 for the first message.
    pub seq: u64,
    /// The cohort's key ([`ws_ext_core::SendStack::cohort_key`]).
    pub key: EncodingKey,
    /// The whole unmasked frame, header and payload.
    pub wire: Bytes,
}

/// Where a connection is in a cohort's stream: the cohort, and the
/// sequence number of the frame it may write next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CohortPos {
    /// The cohort.
    pub cohort: u64,
    /// The next frame's sequence number.
    pub next: u64,
}

/// Which of `frames` a connection with `key` at `pos` may write: the next
/// frame of its cohort, else the first frame of a cohort with its key
/// (joining), else none.
pub(crate) fn pick<'a>(
    frames: &'a [CohortFrame],
    key: &EncodingKey,
    pos: Option<CohortPos>,
) -> Option<&'a CohortFrame> {
    if let Some(p) = pos {
        if let Some(f) = frames
            .iter()
            .find(|f| f.cohort == p.cohort && f.seq == p.next && f.key == *key)
        {
            return Some(f);
        }
    }
    frames.iter().find(|f| f.seq == 0 && f.key == *key)
}

/// Unique cohort ids (0 means "none").
static NEXT_COHORT: AtomicU64 = AtomicU64::new(1);

/// A new cohort id.
pub(crate) fn new_cohort_id() -> u64 {
    NEXT_COHORT.fetch_add(1, Ordering::Relaxed)
}

/// A member's cohort as its group and its connection see it: the group
/// sets it when it puts the member in a cohort (and clears it when the
/// member misses a message), the connection sets the cohort it writes
/// frames of and clears it when it leaves. 0: none.
#[derive(Debug, Default)]
pub(crate) struct Seat(AtomicU64);

impl Seat {
    /// The cohort, or 0.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// In `cohort` (0: in none).
    pub fn set(&self, cohort: u64) {
        self.0.store(cohort, Ordering::Relaxed);
    }

    /// Out of `cohort`, unless the seat says another one by now.
    pub fn leave(&self, cohort: u64) {
        let _ = self
            .0
            .compare_exchange(cohort, 0, Ordering::Relaxed, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(cohort: u64, seq: u64, key: &str) -> CohortFrame {
        CohortFrame {
            cohort,
            seq,
            key: EncodingKey::new(key),
            wire: Bytes::new(),
        }
    }

    #[test]
    fn follows_joins_or_gives_up() {
        let k = EncodingKey::new("k");
        let frames = [f(1, 7, "k"), f(2, 0, "k"), f(3, 0, "other")];
        let at = |cohort, next| Some(CohortPos { cohort, next });
        // Following cohort 1: its next frame, not the new cohort's first.
        assert_eq!(pick(&frames, &k, at(1, 7)).map(|f| f.cohort), Some(1));
        // A frame missed in cohort 1: join cohort 2 at its start.
        assert_eq!(pick(&frames, &k, at(1, 6)).map(|f| f.cohort), Some(2));
        // In no cohort: join one with our key only.
        assert_eq!(pick(&frames, &k, None).map(|f| f.cohort), Some(2));
        assert!(pick(&frames[..1], &k, None).is_none());
        assert!(pick(&frames[2..], &k, None).is_none());
        // Same cohort id and sequence, another key: never.
        assert!(pick(&[f(1, 7, "other")], &k, at(1, 7)).is_none());
    }

    #[test]
    fn a_seat_is_left_only_from_the_cohort_it_says() {
        let s = Seat::default();
        s.set(5);
        s.leave(4);
        assert_eq!(s.get(), 5);
        s.leave(5);
        assert_eq!(s.get(), 0);
    }
}
