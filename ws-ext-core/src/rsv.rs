//! RSV bits (RFC 6455 §5.2) and their ownership by extensions.

use std::fmt;
use std::ops::{BitAnd, BitOr, BitOrAssign, Not};

/// A set of the three reserved bits, stored where they sit in the first
/// byte of a frame header (`0x40` RSV1, `0x20` RSV2, `0x10` RSV3).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RsvBits(u8);

impl RsvBits {
    /// No bit.
    pub const NONE: RsvBits = RsvBits(0);
    /// RSV1 (permessage-deflate's "Per-Message Compressed" bit).
    pub const RSV1: RsvBits = RsvBits(0x40);
    /// RSV2.
    pub const RSV2: RsvBits = RsvBits(0x20);
    /// RSV3.
    pub const RSV3: RsvBits = RsvBits(0x10);
    /// All three.
    pub const ALL: RsvBits = RsvBits(0x70);

    /// From the first byte of a frame header (other bits are ignored).
    pub const fn from_header_byte(b: u8) -> Self {
        RsvBits(b & 0x70)
    }
    /// The bits as they sit in the first header byte.
    pub const fn bits(self) -> u8 {
        self.0
    }
    /// No bit set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// Every bit of `other` is set in `self`.
    pub const fn contains(self, other: RsvBits) -> bool {
        self.0 & other.0 == other.0
    }
    /// Any bit in common.
    pub const fn intersects(self, other: RsvBits) -> bool {
        self.0 & other.0 != 0
    }
}

impl BitOr for RsvBits {
    type Output = RsvBits;
    fn bitor(self, r: RsvBits) -> RsvBits {
        RsvBits(self.0 | r.0)
    }
}
impl BitOrAssign for RsvBits {
    fn bitor_assign(&mut self, r: RsvBits) {
        self.0 |= r.0;
    }
}
impl BitAnd for RsvBits {
    type Output = RsvBits;
    fn bitand(self, r: RsvBits) -> RsvBits {
        RsvBits(self.0 & r.0)
    }
}
impl Not for RsvBits {
    type Output = RsvBits;
    fn not(self) -> RsvBits {
        RsvBits(!self.0 & 0x70)
    }
}

impl fmt::Debug for RsvBits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for RsvBits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        let mut first = true;
        for (bit, name) in [
            (Self::RSV1, "RSV1"),
            (Self::RSV2, "RSV2"),
            (Self::RSV3, "RSV3"),
        ] {
            if self.contains(bit) {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}
