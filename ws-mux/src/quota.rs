//! Flow-control arithmetic (§C.7).
//!
//! A logical frame costs its payload length **plus one octet when its opcode
//! is not continuation** (the per-message cost of draft -07), so empty
//! messages and every control message use quota. A send quota may never
//! exceed 2^63 − 1 ([`MAX_QUOTA`]): a FlowControl that would push it above
//! is a Send Quota Overflow (3006).

use ws_ext_core::{Frame, OpCode};

/// The largest send quota: 2^63 − 1.
pub const MAX_QUOTA: u64 = crate::wire::MAX_NUMBER;

/// The quota a logical frame consumes.
///
/// ```
/// use ws_ext_core::{Frame, OpCode};
/// assert_eq!(ws_mux::quota::cost(&Frame::new(true, OpCode::Text, "Hello")), 6);
/// assert_eq!(ws_mux::quota::cost(&Frame::new(true, OpCode::Continuation, "lo")), 2);
/// assert_eq!(ws_mux::quota::cost(&Frame::new(true, OpCode::Binary, "")), 1);
/// ```
pub fn cost(frame: &Frame) -> u64 {
    frame_cost(frame.opcode, frame.payload.len())
}

/// The cost of a frame with `opcode` and `len` payload bytes.
pub fn frame_cost(opcode: OpCode, len: usize) -> u64 {
    len as u64 + u64::from(opcode != OpCode::Continuation)
}

/// `quota + add`, or `None` when the sum exceeds [`MAX_QUOTA`].
pub fn replenish(quota: u64, add: u64) -> Option<u64> {
    quota.checked_add(add).filter(|q| *q <= MAX_QUOTA)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_boundary() {
        assert_eq!(replenish(MAX_QUOTA - 1, 1), Some(MAX_QUOTA));
        assert_eq!(replenish(MAX_QUOTA, 1), None);
        assert_eq!(replenish(u64::MAX, 1), None);
    }
}
