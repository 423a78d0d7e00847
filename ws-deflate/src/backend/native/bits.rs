//! The LSB-first bit writer DEFLATE streams are made of (RFC 1951 §3.1.1).

/// Appends bits to a byte vector, least significant bit first.
pub(super) struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    acc: u64,
    n: u32,
}

impl<'a> BitWriter<'a> {
    /// A writer appending to `out`, which must end on a byte boundary.
    pub(super) fn new(out: &'a mut Vec<u8>) -> Self {
        Self { out, acc: 0, n: 0 }
    }

    /// Append the low `n` bits of `bits` (`n` ≤ 32; higher bits are zero).
    #[inline]
    pub(super) fn put(&mut self, bits: u32, n: u32) {
        debug_assert!(n <= 32 && (n == 32 || bits >> n == 0));
        self.acc |= u64::from(bits) << self.n;
        self.n += n;
        if self.n >= 32 {
            self.out.extend_from_slice(&(self.acc as u32).to_le_bytes());
            self.acc >>= 32;
            self.n -= 32;
        }
    }

    /// Pad with zero bits to the next byte boundary and write out every
    /// pending bit.
    pub(super) fn align(&mut self) {
        while self.n > 0 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n = self.n.saturating_sub(8);
        }
        self.acc = 0;
    }

    /// Append whole bytes; the writer must be aligned.
    pub(super) fn bytes(&mut self, data: &[u8]) {
        debug_assert_eq!(self.n, 0, "bytes() needs an aligned writer");
        self.out.extend_from_slice(data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_lsb_first_and_aligns() {
        let mut out = Vec::new();
        let mut w = BitWriter::new(&mut out);
        w.put(0b1, 1);
        w.put(0b10, 2);
        w.put(0x1f, 5);
        w.put(0xabcd_ef01, 32);
        w.put(0b101, 3);
        w.align();
        w.bytes(&[0x77]);
        assert_eq!(out, [0b1111_1101, 0x01, 0xef, 0xcd, 0xab, 0b101, 0x77]);
    }
}
