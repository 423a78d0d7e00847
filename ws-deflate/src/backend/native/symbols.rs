//! The LZ77 output of one block: literals and matches, with the symbol
//! frequencies its Huffman codes are built from.

use super::huffman::{dist_code, LENGTH_CODE};

/// Marks a match in [`Symbols::list`]: `MATCH | dist << 8 | (len - 3)`.
pub(super) const MATCH: u32 = 1 << 31;
/// Literal/length symbols (0..=285).
pub(super) const LIT_SYMS: usize = 286;
/// Distance symbols (0..=29).
pub(super) const DIST_SYMS: usize = 30;
/// The end-of-block symbol.
pub(super) const END_OF_BLOCK: usize = 256;

/// The length and distance of a match symbol `x` of [`Symbols::list`].
#[inline]
pub(super) fn match_of(x: u32) -> (usize, u32) {
    ((x & 0xff) as usize + 3, (x & !MATCH) >> 8)
}

/// One block's symbols and their frequencies.
pub(super) struct Symbols {
    /// Literals (< 256) and matches (with [`MATCH`] set).
    pub list: Vec<u32>,
    /// Literal/length frequencies (end-of-block counted once).
    pub lit: [u32; LIT_SYMS],
    /// Distance frequencies.
    pub dist: [u32; DIST_SYMS],
}

impl Symbols {
    /// No symbols.
    pub(super) fn new() -> Self {
        let mut s = Self {
            list: Vec::new(),
            lit: [0; LIT_SYMS],
            dist: [0; DIST_SYMS],
        };
        s.clear();
        s
    }

    /// Start a new block.
    pub(super) fn clear(&mut self) {
        self.list.clear();
        self.lit = [0; LIT_SYMS];
        self.dist = [0; DIST_SYMS];
        self.lit[END_OF_BLOCK] = 1;
    }

    /// A literal byte.
    #[inline]
    pub(super) fn literal(&mut self, b: u8) {
        self.list.push(u32::from(b));
        self.lit[usize::from(b)] += 1;
    }

    /// The last symbol, as [`Symbols::list`] holds it.
    #[inline]
    pub(super) fn last(&self) -> Option<u32> {
        self.list.last().copied()
    }

    /// Take back the last symbol (its frequencies too).
    #[inline]
    pub(super) fn pop(&mut self) {
        let Some(x) = self.list.pop() else { return };
        if x & MATCH == 0 {
            self.lit[x as usize] -= 1;
        } else {
            let (len, dist) = match_of(x);
            self.lit[257 + usize::from(LENGTH_CODE[len - 3])] -= 1;
            self.dist[dist_code(dist)] -= 1;
        }
    }

    /// A match of `len` (4..=258) bytes `dist` (1..=32768) back.
    #[inline]
    pub(super) fn matched(&mut self, len: usize, dist: u32) {
        debug_assert!((3..=258).contains(&len) && (1..=32768).contains(&dist));
        let l = len - 3;
        self.list.push(MATCH | dist << 8 | l as u32);
        self.lit[257 + usize::from(LENGTH_CODE[l])] += 1;
        self.dist[dist_code(dist)] += 1;
    }
}
