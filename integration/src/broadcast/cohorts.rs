//! A group's cohorts: members whose compressor keeps history (context
//! takeover) and who were sent the same messages since the cohort began
//! share one compressor, which the group runs once per message at
//! [`Broadcast::send`](super::Broadcast::send) time, in the group's order.
//!
//! Before each message: a cohort no member follows any more is dropped;
//! members in no cohort (new, or out of one: they missed a message or sent
//! one of their own) start a new cohort per key, and when a key has more
//! than the group's `max_cohorts`, its smallest cohorts are merged into the
//! new one (their members start afresh with it; the largest keep their
//! history). What makes each frame valid for the members that write it is
//! decided by the connections themselves ([`crate::proto::cohort`]).
//!
//! A cohort compresses every message sent, whereas a member on its own
//! compresses only what it delivers; so a new cohort starts only for
//! members that keep up (their queue at most half full): at least two of
//! them, or one when its key has no cohort at all. Members that fall
//! behind (and drop messages) and a lone late joiner beside an existing
//! cohort compress for themselves meanwhile, and join the next cohort that
//! starts for their key.

use std::sync::{Arc, Mutex, OnceLock};

use tracing::{debug, trace};
use ws_ext_core::{EncodingKey, SendStack};

use crate::proto::cohort::{new_cohort_id, CohortFrame, Seat};
use crate::proto::frame::encode_raw;
use crate::proto::prepared::PreparedMessage;

use super::{lock, Queue};

/// A member's side of the cohorts: what its connection said it needs
/// (once attached), and the group's view of its cohort.
#[derive(Debug, Default)]
pub(super) struct MemberCohort {
    /// The connection's cohort key, once attached.
    key: OnceLock<EncodingKey>,
    /// A fresh send stack like the connection's: the template of the
    /// cohorts it starts.
    template: Mutex<Option<SendStack>>,
    /// Its cohort, as the group and the connection see it.
    pub(super) seat: Arc<Seat>,
}

impl MemberCohort {
    /// The connection can be in cohorts with `key`; `template` is a fresh
    /// stack like its own. The first attachment stands: `false` if an
    /// earlier one gave another key.
    pub(super) fn attach(&self, key: EncodingKey, template: SendStack) -> bool {
        match self.key.set(key) {
            Ok(()) => {
                *lock(&self.template) = Some(template);
                true
            }
            Err(key) => self.key.get() == Some(&key),
        }
    }

    /// Whether the connection was attached.
    pub(super) fn is_attached(&self) -> bool {
        self.key.get().is_some()
    }
}

/// One cohort: its compressor and where its stream is.
struct Cohort {
    id: u64,
    key: EncodingKey,
    stack: SendStack,
    /// The next frame's sequence number.
    seq: u64,
    /// Members counted before the last message.
    members: usize,
}

impl std::fmt::Debug for Cohort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cohort")
            .field("id", &self.id)
            .field("key", &self.key)
            .field("seq", &self.seq)
            .field("members", &self.members)
            .finish()
    }
}

/// The cohorts of one group.
#[derive(Debug, Default)]
pub(super) struct Cohorts {
    list: Vec<Cohort>,
}

impl Cohorts {
    /// Cohorts now.
    pub(super) fn len(&self) -> usize {
        self.list.len()
    }

    /// The group is quiet: every cohort's compressor packs its window and
    /// goes back to the pool ([`SendStack::hibernate`]); the next message
    /// primes one with the window again. How many cohorts there are.
    pub(super) fn hibernate(&mut self) -> usize {
        for c in &mut self.list {
            c.stack.hibernate();
        }
        self.list.len()
    }

    /// Before `msg` goes to the members' `queues` (of `cap` messages):
    /// bring the cohorts up to date (at most `max` per key), then encode
    /// `msg` once per cohort and hang the frames on it.
    pub(super) fn prepare(
        &mut self,
        queues: &[Arc<Queue>],
        cap: usize,
        max: usize,
        msg: &PreparedMessage,
    ) {
        self.regroup(queues, cap, max.max(1));
        if self.list.is_empty() {
            return;
        }
        let mut frames = Vec::with_capacity(self.list.len());
        self.list
            .retain_mut(|c| match c.stack.encode(msg.whole_frame()) {
                Ok(f) => {
                    frames.push(CohortFrame {
                        cohort: c.id,
                        seq: c.seq,
                        key: c.key.clone(),
                        wire: encode_raw(&f, None).freeze(),
                    });
                    c.seq += 1;
                    true
                }
                Err(e) => {
                    // Its members find no frame of it: they encode the
                    // message themselves, and start a new cohort next time.
                    debug!(cohort = c.id, error = %e, "cohort encoder failed: cohort dropped");
                    false
                }
            });
        msg.add_cohort_frames(frames);
    }

    /// Count the members of each cohort, drop the empty ones, and start a
    /// cohort per key for the members in none.
    fn regroup(&mut self, queues: &[Arc<Queue>], cap: usize, max: usize) {
        for c in &mut self.list {
            c.members = 0;
        }
        // (member, whether it keeps up: its queue at most half full)
        let mut waiting: Vec<(&MemberCohort, bool)> = Vec::new();
        for q in queues {
            let m = &q.cohort;
            if !m.is_attached() {
                continue;
            }
            let seat = m.seat.get();
            match self.list.iter_mut().find(|c| seat != 0 && c.id == seat) {
                Some(c) => c.members += 1,
                None => waiting.push((m, lock(&q.state).items.len() <= cap / 2)),
            }
        }
        self.list.retain(|c| c.members > 0);
        while let Some(key) = waiting.first().and_then(|(m, _)| m.key.get()).cloned() {
            let (joining, rest): (Vec<_>, Vec<_>) = waiting
                .into_iter()
                .partition(|(m, _)| m.key.get() == Some(&key));
            waiting = rest;
            let ready = joining.iter().filter(|(_, keeps_up)| *keeps_up).count();
            let has_cohort = self.list.iter().any(|c| c.key == key);
            if ready >= 2 || (ready == 1 && !has_cohort) {
                let joining: Vec<&MemberCohort> = joining.iter().map(|(m, _)| *m).collect();
                self.start(&key, &joining, queues, max);
            }
        }
    }

    /// A new cohort with key `key` for `joining`, merging the key's
    /// smallest cohorts into it if the key would have more than `max`.
    fn start(
        &mut self,
        key: &EncodingKey,
        joining: &[&MemberCohort],
        queues: &[Arc<Queue>],
        max: usize,
    ) {
        let Some(stack) = joining
            .iter()
            .find_map(|m| lock(&m.template).as_ref().and_then(SendStack::fresh))
        else {
            return; // cannot: they encode for themselves
        };
        let id = new_cohort_id();
        let mut same: Vec<(usize, u64)> = self
            .list
            .iter()
            .filter(|c| c.key == *key)
            .map(|c| (c.members, c.id))
            .collect();
        let mut count = joining.len();
        if same.len() >= max {
            // Keep the largest `max - 1`; the rest start afresh with us.
            same.sort_unstable_by(|a, b| b.cmp(a));
            let merged: Vec<u64> = same[max - 1..].iter().map(|&(_, id)| id).collect();
            self.list.retain(|c| !merged.contains(&c.id));
            for q in queues {
                if merged.contains(&q.cohort.seat.get()) {
                    q.cohort.seat.set(id);
                    count += 1;
                }
            }
            trace!(cohort = id, merged = merged.len(), "cohorts merged");
        }
        for m in joining {
            m.seat.set(id);
        }
        debug!(cohort = id, members = count, %key, "cohort started");
        self.list.push(Cohort {
            id,
            key: key.clone(),
            stack,
            seq: 0,
            members: count,
        });
    }
}
