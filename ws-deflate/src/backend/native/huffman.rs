//! Huffman codes for DEFLATE blocks (RFC 1951 §3.2.2): length-limited code
//! lengths from symbol frequencies, and the canonical codes they define.

/// The longest code a literal/length or distance tree may use.
pub(super) const MAX_BITS: u8 = 15;
/// The longest code of the code-length tree.
pub(super) const MAX_CL_BITS: u8 = 7;

/// The most symbols of an alphabet (literal/length: 286 used, 288 coded).
pub(super) const MAX_SYMS: usize = 288;

/// A canonical Huffman code of one alphabet, rebuilt for each block. It
/// keeps its arrays between blocks: a block touches only the symbols it
/// uses, so building a code costs about as much as the symbols used (tens
/// in a message of chat JSON), not the alphabet's 288.
pub(super) struct Code {
    /// Code length of each symbol (0: no code).
    pub lens: [u8; MAX_SYMS],
    /// Bit-reversed code (for an LSB-first writer) of each symbol with a
    /// length; other entries are stale.
    pub codes: [u16; MAX_SYMS],
    /// The symbols with a code, in increasing order: `used[..n_used]`.
    used: [u16; MAX_SYMS],
    n_used: usize,
    /// Scratch: sort keys, then the weights, parents and depths of the
    /// in-place Huffman construction.
    keys: [u32; MAX_SYMS],
    work: [u32; MAX_SYMS],
}

impl Code {
    /// A code with no symbols.
    pub(super) fn new() -> Self {
        Self {
            lens: [0; MAX_SYMS],
            codes: [0; MAX_SYMS],
            used: [0; MAX_SYMS],
            n_used: 0,
            keys: [0; MAX_SYMS],
            work: [0; MAX_SYMS],
        }
    }

    /// The symbols with a code, in increasing order.
    pub(super) fn used(&self) -> &[u16] {
        &self.used[..self.n_used]
    }

    /// One past the last symbol with a code (0 if none).
    pub(super) fn end(&self) -> usize {
        self.used().last().map_or(0, |&s| usize::from(s) + 1)
    }

    /// Set the code lengths of `lens` (at most 288 symbols, unused ones 0)
    /// and make the codes.
    pub(super) fn set(&mut self, lens: &[u8]) {
        self.clear();
        let mut count = [0u32; 16];
        for (sym, &l) in lens.iter().enumerate() {
            self.lens[sym] = l;
            self.used[self.n_used] = sym as u16;
            self.n_used += usize::from(l != 0);
            count[usize::from(l & 15)] += 1;
        }
        count[0] = 0;
        self.make_codes(&count);
    }

    /// Forget the last block's lengths.
    fn clear(&mut self) {
        for &sym in &self.used[..self.n_used] {
            self.lens[usize::from(sym)] = 0;
        }
        self.n_used = 0;
    }

    /// Build a length-limited code for `freqs` (at most 288 symbols): no
    /// code longer than `limit`, unused symbols get none.
    ///
    /// Like zlib, at least two symbols get a code even when fewer are used
    /// (a tree of one code is legal but some decoders refuse it), so a
    /// tree of zero or one used symbol comes out as two one-bit codes.
    pub(super) fn build(&mut self, freqs: &[u32], limit: u8) {
        debug_assert!(freqs.len() <= MAX_SYMS && freqs.len() >= 2);
        self.clear();
        // Sort keys (frequency above, symbol below; frequencies of one
        // block stay far below 2^23) and the used symbols in order, both
        // written always and kept only when used: no branch per symbol.
        // Eight at a time, skipping runs of unused symbols (most of the
        // literal alphabet in text).
        let mut n = 0;
        for (k, chunk) in freqs.chunks(8).enumerate() {
            if chunk.iter().fold(0, |a, &f| a | f) == 0 {
                continue;
            }
            for (j, &f) in chunk.iter().enumerate() {
                let sym = (8 * k + j) as u32;
                self.keys[n] = f.min((1 << 23) - 1) << 9 | sym;
                self.used[n] = sym as u16;
                n += usize::from(f > 0);
            }
        }
        self.n_used = n;
        if n < 2 {
            let first = if n == 1 { self.used[0] } else { 0 };
            let other = if first == 0 { 1 } else { 0 };
            self.used[0] = first.min(other);
            self.used[1] = first.max(other);
            self.n_used = 2;
            self.lens[usize::from(first)] = 1;
            self.lens[usize::from(other)] = 1;
            let mut count = [0u32; 16];
            count[1] = 2;
            self.make_codes(&count);
            return;
        }
        let keys = &mut self.keys[..n];
        keys.sort_unstable();
        let count = lengths(keys, &mut self.work[..n], limit);
        // The least frequent symbols get the longest codes.
        let mut i = 0;
        for l in (1..=usize::from(limit)).rev() {
            for _ in 0..count[l] {
                self.lens[(keys[i] & 511) as usize] = l as u8;
                i += 1;
            }
        }
        self.make_codes(&count);
    }

    /// The canonical codes of the lengths (RFC 1951 §3.2.2), given how
    /// many codes each length 1..=15 has.
    fn make_codes(&mut self, count: &[u32; 16]) {
        let mut next = [0u16; 16];
        let mut code = 0u16;
        for bits in 1..16 {
            code = (code + count[bits - 1] as u16) << 1;
            next[bits] = code;
        }
        for &sym in &self.used[..self.n_used] {
            let l = self.lens[usize::from(sym)] & 15;
            let c = next[usize::from(l)];
            next[usize::from(l)] += 1;
            self.codes[usize::from(sym)] = reverse(c, l);
        }
    }
}

/// Each byte with its bits in reverse order.
const REVERSED: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = (i as u8).reverse_bits();
        i += 1;
    }
    t
};

/// The low `len` (1..=15) bits of `code` in reverse order.
#[inline]
fn reverse(code: u16, len: u8) -> u16 {
    let r = u16::from(REVERSED[usize::from(code & 0xff)]) << 8
        | u16::from(REVERSED[usize::from(code >> 8)]);
    r >> (16 - u32::from(len))
}

/// How many of the sorted `keys` (at least two; weight = key >> 9) get a
/// code of each length 1..=`limit`, with `work` as scratch of the same
/// size: Huffman's lengths, the too-long ones shortened.
fn lengths(keys: &[u32], work: &mut [u32], limit: u8) -> [u32; 16] {
    let n = keys.len();
    let a = work;
    for (w, k) in a.iter_mut().zip(keys) {
        *w = k >> 9;
    }
    // In place (Moffat and Katajainen, "In-place calculation of
    // minimum-redundancy codes", 1995). Internal node `next` takes the two
    // lightest of the leaves left (from `leaf`) and of the nodes made
    // (from `root`: they are made in order of weight), and a node taken
    // becomes the index of its parent.
    a[0] = a[0].saturating_add(a[1]);
    let (mut root, mut leaf) = (0usize, 2usize);
    for next in 1..n - 1 {
        if leaf >= n || a[root] < a[leaf] {
            a[next] = a[root];
            a[root] = next as u32;
            root += 1;
        } else {
            a[next] = a[leaf];
            leaf += 1;
        }
        if leaf >= n || (root < next && a[root] < a[leaf]) {
            a[next] = a[next].saturating_add(a[root]);
            a[root] = next as u32;
            root += 1;
        } else {
            a[next] = a[next].saturating_add(a[leaf]);
            leaf += 1;
        }
    }
    // Depths of the internal nodes; the root, made last, has depth 0.
    a[n - 2] = 0;
    for next in (0..n - 2).rev() {
        a[next] = a[a[next] as usize] + 1;
    }
    // Leaves per depth: of each depth's slots, the internal nodes at that
    // depth continue the tree and the rest are leaves. Codes longer than
    // `limit` are counted at `limit` for now.
    let limit = usize::from(limit);
    let mut count = [0u32; 16];
    let (mut slots, mut depth, mut inner) = (1u32, 0usize, n as isize - 2);
    while slots > 0 {
        let mut internal = 0u32;
        while inner >= 0 && a[inner as usize] as usize == depth {
            internal += 1;
            inner -= 1;
        }
        count[depth.min(limit)] += slots - internal;
        slots = 2 * internal;
        depth += 1;
    }
    // Fix the Kraft sum: each step takes one code off the longest length
    // and splits a shorter code into two one bit longer.
    let full = 1u32 << limit;
    let mut total: u32 = (1..=limit).map(|l| count[l] << (limit - l)).sum();
    while total > full {
        count[limit] -= 1;
        if let Some(l) = (1..limit).rev().find(|&l| count[l] != 0) {
            count[l] -= 1;
            count[l + 1] += 2;
        }
        total -= 1;
    }
    count
}

/// Base length of each length code 257..=285.
pub(super) const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
/// Extra bits of each length code 257..=285.
pub(super) const LENGTH_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/// Base distance of each distance code 0..=29.
pub(super) const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
/// Extra bits of each distance code 0..=29.
pub(super) const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

/// The length code (0..=28, i.e. symbol 257 + it) of each match length
/// minus 3.
pub(super) const LENGTH_CODE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut code = 0;
    while code < 29 {
        let base = LENGTH_BASE[code] as usize - 3;
        let span = 1usize << LENGTH_EXTRA[code];
        let mut k = 0;
        while k < span && base + k < 256 {
            t[base + k] = code as u8;
            k += 1;
        }
        code += 1;
    }
    // 258 gets code 28 (symbol 285), not 284's last extra value: code 28
    // comes last in the loop and overwrites it.
    t
};

/// The distance code (0..=29) of distance `dist` (1..=32768).
#[inline]
pub(super) fn dist_code(dist: u32) -> usize {
    let d = dist - 1;
    if d < 4 {
        d as usize
    } else {
        let log = 31 - d.leading_zeros();
        (2 * log + ((d >> (log - 1)) & 1)) as usize
    }
}

/// Code lengths of the fixed literal/length code (BTYPE 01).
pub(super) const FIXED_LIT_LENS: [u8; 288] = {
    let mut t = [0u8; 288];
    let mut i = 0;
    while i < 288 {
        t[i] = if i < 144 {
            8
        } else if i < 256 {
            9
        } else if i < 280 {
            7
        } else {
            8
        };
        i += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;

    fn kraft(lens: &[u8]) -> f64 {
        lens.iter()
            .filter(|&&l| l > 0)
            .map(|&l| 0.5f64.powi(i32::from(l)))
            .sum()
    }

    #[test]
    fn lengths_are_complete_and_limited() {
        // Fibonacci frequencies make the deepest possible tree.
        let mut freqs = vec![0u32; 30];
        let (mut a, mut b) = (1u32, 1u32);
        for f in freqs.iter_mut() {
            *f = a;
            (a, b) = (b, a.saturating_add(b));
        }
        for limit in [7u8, 9, 15] {
            let mut code = Code::new();
            code.build(&freqs, limit);
            let lens = &code.lens[..30];
            assert!(lens.iter().all(|&l| (1..=limit).contains(&l)), "{lens:?}");
            assert!((kraft(lens) - 1.0).abs() < 1e-12, "{lens:?}");
            // More frequent symbols never get longer codes.
            for i in 1..30 {
                assert!(lens[i] <= lens[i - 1], "{lens:?}");
            }
        }
    }

    /// The cost of an optimal (unlimited) Huffman code for `freqs`: the
    /// sum of the weights of its internal nodes; and its greatest depth.
    fn reference(freqs: &[u32]) -> (u64, u32) {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        let mut heap: BinaryHeap<Reverse<(u64, u32)>> = freqs
            .iter()
            .filter(|&&f| f > 0)
            .map(|&f| Reverse((u64::from(f), 0)))
            .collect();
        let mut cost = 0;
        while heap.len() > 1 {
            let (Some(Reverse((a, da))), Some(Reverse((b, db)))) = (heap.pop(), heap.pop()) else {
                unreachable!("two nodes were there")
            };
            cost += a + b;
            heap.push(Reverse((a + b, da.max(db) + 1)));
        }
        (cost, heap.pop().map_or(0, |Reverse((_, d))| d))
    }

    quickcheck::quickcheck! {
        /// Built codes are complete, within the limit, and as small as an
        /// optimal Huffman code whenever that one fits the limit.
        fn built_codes_are_optimal(raw: Vec<(u8, u16)>, limit: bool) -> quickcheck::TestResult {
            let mut freqs = vec![0u32; 286];
            for &(sym, f) in &raw {
                // Skewed: many small counts, a few large.
                freqs[usize::from(sym) + (usize::from(f) % 31)] += u32::from(f % 97) + u32::from(f >> 12) * 500;
            }
            let used = freqs.iter().filter(|&&f| f > 0).count();
            let limit = if limit { 7 } else { MAX_BITS };
            let mut code = Code::new();
            code.build(&freqs, limit);
            let lens = &code.lens[..286];
            if lens.iter().any(|&l| l > limit) || (kraft(lens) - 1.0).abs() > 1e-12 {
                return quickcheck::TestResult::error(format!("{lens:?}"));
            }
            if used >= 2 {
                // Every used symbol, and only those, has a code.
                let coded: Vec<u16> = (0..286).filter(|&s| lens[s] > 0).map(|s| s as u16).collect();
                let wanted: Vec<u16> = (0..286).filter(|&s| freqs[s] > 0).map(|s| s as u16).collect();
                if coded != wanted || code.used() != &coded[..] {
                    return quickcheck::TestResult::error("used symbols");
                }
                let cost: u64 = (0..286).map(|s| u64::from(freqs[s]) * u64::from(lens[s])).sum();
                let (best, depth) = reference(&freqs);
                if cost < best || (depth <= u32::from(limit) && cost != best) {
                    return quickcheck::TestResult::error(format!("cost {cost}, optimal {best}"));
                }
            }
            quickcheck::TestResult::passed()
        }
    }

    #[test]
    fn one_or_no_symbol_still_makes_two_codes() {
        let mut code = Code::new();
        code.build(&[0; 30], 15);
        assert_eq!(&code.lens[..3], &[1, 1, 0]);
        assert_eq!(code.used(), &[0, 1]);
        let mut f = [0u32; 30];
        f[7] = 9;
        code.build(&f, 15);
        let lens = &code.lens[..30];
        assert_eq!((lens[0], lens[7], kraft(lens)), (1, 1, 1.0));
        assert_eq!(code.used(), &[0, 7]);
        // The stale length of symbol 1 was cleared.
        assert_eq!(lens.iter().filter(|&&l| l != 0).count(), 2);
    }

    #[test]
    fn canonical_codes_match_rfc_1951_example() {
        // RFC 1951 §3.2.2: lengths (3, 3, 3, 3, 3, 2, 4, 4) give
        // 010 011 100 101 110 00 1110 1111.
        let lens = [3u8, 3, 3, 3, 3, 2, 4, 4];
        let mut code = Code::new();
        code.set(&lens);
        let c = &code.codes;
        let msb = [0b010, 0b011, 0b100, 0b101, 0b110, 0b00, 0b1110, 0b1111];
        for i in 0..8 {
            let rev = (c[i].reverse_bits()) >> (16 - u32::from(lens[i]));
            assert_eq!(rev, msb[i], "symbol {i}");
        }
    }

    #[test]
    fn length_and_distance_codes_cover_their_ranges() {
        for len in 3usize..=258 {
            let code = LENGTH_CODE[len - 3] as usize;
            let base = usize::from(LENGTH_BASE[code]);
            assert!(
                len >= base && len - base < (1 << LENGTH_EXTRA[code]).max(1),
                "{len}"
            );
        }
        assert_eq!(LENGTH_CODE[255], 28);
        for dist in 1u32..=32768 {
            let code = dist_code(dist);
            let base = u32::from(DIST_BASE[code]);
            assert!(
                dist >= base && dist - base < (1 << DIST_EXTRA[code]).max(1),
                "{dist}"
            );
        }
    }
}
