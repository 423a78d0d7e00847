//! The send queue of one logical channel: frames wait here until the send
//! quota lets them out, split into fragments when the quota is short.
//!
//! Ping and pong go ahead of data (they may be inserted between the
//! fragments of a data message; every fragment is emitted whole, and a
//! started control frame is finished before anything else on the channel).
//! Close does **not** overtake data: it queues behind everything already
//! queued, so no data is lost behind it. When a frame is split the
//! first fragment keeps the opcode and the RSV bits, the others are
//! continuation frames without RSV bits (right for per-message extensions
//! such as permessage-deflate; frame-based ones are refused under mux), and
//! FIN is on the last fragment only if the frame had it.

use std::collections::VecDeque;

use bytes::Bytes;
use ws_ext_core::{Frame, OpCode, RsvBits};

#[derive(Debug)]
struct Queued {
    frame: Frame,
    started: bool,
}

/// The frames one channel has yet to send.
#[derive(Debug, Default)]
pub struct SendQueue {
    control: VecDeque<Queued>,
    data: VecDeque<Queued>,
    bytes: usize,
    close_sent: bool,
}

impl SendQueue {
    /// Queue an (already extension-encoded) frame.
    pub fn push(&mut self, frame: Frame) {
        self.bytes += frame.payload.len();
        let q = Queued {
            frame,
            started: false,
        };
        if q.frame.opcode.is_control() && q.frame.opcode != OpCode::Close {
            self.control.push_back(q);
        } else {
            self.data.push_back(q);
        }
    }

    /// Payload bytes queued.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether the last fragment of a Close frame has left.
    pub fn close_sent(&self) -> bool {
        self.close_sent
    }

    /// Which queue the next fragment comes from: a started control frame
    /// (a split Close) first, then ping/pong, then data.
    fn next_is_data(&self) -> bool {
        let data_control_started = self
            .data
            .front()
            .is_some_and(|h| h.started && h.frame.opcode.is_control());
        let control_started = self.control.front().is_some_and(|h| h.started);
        (data_control_started && !control_started) || self.control.is_empty()
    }

    /// Nothing queued.
    pub fn is_empty(&self) -> bool {
        self.control.is_empty() && self.data.is_empty()
    }

    /// Forget everything.
    pub fn clear(&mut self) {
        self.control.clear();
        self.data.clear();
        self.bytes = 0;
    }

    /// The quota the next fragment needs at least (for a blocked check).
    pub fn min_cost(&self) -> Option<u64> {
        let head = if self.next_is_data() {
            self.data.front()
        } else {
            self.control.front()
        }?;
        let header = u64::from(!head.started && head.frame.opcode != OpCode::Continuation);
        Some(header + u64::from(!head.frame.payload.is_empty()))
    }

    /// Take the next fragment that `quota` allows, at most `max_payload`
    /// payload bytes (≥ 1), and reduce `quota` by its cost.
    pub fn next_fragment(&mut self, quota: &mut u64, max_payload: usize) -> Option<Frame> {
        let q = if self.next_is_data() {
            &mut self.data
        } else {
            &mut self.control
        };
        let head = q.front_mut()?;
        let first = !head.started;
        let header = u64::from(first && head.frame.opcode != OpCode::Continuation);
        let remaining = head.frame.payload.len();
        let n = if remaining == 0 {
            if *quota < header {
                return None;
            }
            0
        } else {
            if *quota < header + 1 {
                return None;
            }
            let allowed = usize::try_from(*quota - header).unwrap_or(usize::MAX);
            remaining.min(allowed).min(max_payload.max(1))
        };
        let payload: Bytes = head.frame.payload.split_to(n);
        let last = head.frame.payload.is_empty();
        let out = Frame {
            fin: last && head.frame.fin,
            rsv: if first { head.frame.rsv } else { RsvBits::NONE },
            opcode: if first {
                head.frame.opcode
            } else {
                OpCode::Continuation
            },
            payload,
        };
        head.started = true;
        let was_close = head.frame.opcode == OpCode::Close;
        if last {
            q.pop_front();
            if was_close {
                self.close_sent = true;
            }
        }
        *quota -= header + n as u64;
        self.bytes -= n;
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_by_quota_with_per_message_cost() {
        let mut q = SendQueue::default();
        let mut f = Frame::new(true, OpCode::Text, "Hello world");
        f.rsv = RsvBits::RSV1;
        q.push(f);
        let mut quota = 4;
        let a = q.next_fragment(&mut quota, 100).unwrap();
        assert_eq!(
            (a.opcode, a.fin, a.rsv, &a.payload[..]),
            (OpCode::Text, false, RsvBits::RSV1, &b"Hel"[..])
        );
        assert_eq!(quota, 0);
        assert!(q.next_fragment(&mut quota, 100).is_none());
        quota = 100;
        let b = q.next_fragment(&mut quota, 5).unwrap();
        assert_eq!(
            (b.opcode, b.fin, b.rsv, &b.payload[..]),
            (OpCode::Continuation, false, RsvBits::NONE, &b"lo wo"[..])
        );
        let c = q.next_fragment(&mut quota, 5).unwrap();
        assert_eq!(
            (c.opcode, c.fin, &c.payload[..]),
            (OpCode::Continuation, true, &b"rld"[..])
        );
        assert_eq!(quota, 100 - 8);
        assert!(q.is_empty());
        assert_eq!(q.bytes(), 0);
    }

    #[test]
    fn empty_message_costs_one_and_control_goes_first() {
        let mut q = SendQueue::default();
        q.push(Frame::new(true, OpCode::Binary, ""));
        q.push(Frame::new(true, OpCode::Ping, "p"));
        let mut quota = 0;
        assert!(q.next_fragment(&mut quota, 10).is_none());
        quota = 1;
        // The ping needs 2; nothing goes (control first, and it does not fit).
        assert_eq!(q.min_cost(), Some(2));
        assert!(q.next_fragment(&mut quota, 10).is_none());
        quota = 3;
        assert_eq!(
            q.next_fragment(&mut quota, 10).unwrap().opcode,
            OpCode::Ping
        );
        let e = q.next_fragment(&mut quota, 10).unwrap();
        assert_eq!(
            (e.opcode, e.fin, e.payload.len()),
            (OpCode::Binary, true, 0)
        );
        assert_eq!(quota, 0);
    }

    #[test]
    fn close_waits_for_data_and_is_not_interrupted() {
        let mut q = SendQueue::default();
        q.push(Frame::new(true, OpCode::Binary, "data"));
        q.push(Frame::new(true, OpCode::Close, &b"\x03\xe8bye"[..]));
        let mut quota = 5;
        assert_eq!(
            q.next_fragment(&mut quota, 100).unwrap().opcode,
            OpCode::Binary
        );
        quota = 3;
        let c = q.next_fragment(&mut quota, 100).unwrap();
        assert_eq!((c.opcode, c.fin), (OpCode::Close, false));
        assert!(!q.close_sent());
        // A ping queued now must not split the Close.
        q.push(Frame::new(true, OpCode::Ping, ""));
        quota = 100;
        let rest = q.next_fragment(&mut quota, 100).unwrap();
        assert_eq!(
            (rest.opcode, rest.fin, &rest.payload[..]),
            (OpCode::Continuation, true, &b"bye"[..])
        );
        assert!(q.close_sent());
        assert_eq!(
            q.next_fragment(&mut quota, 100).unwrap().opcode,
            OpCode::Ping
        );
    }
}
