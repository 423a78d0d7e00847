//! Huffman codes for DEFLATE blocks (RFC 1951 §3.2.2): length-limited code
//! lengths from symbol frequencies, and the canonical codes they define.

/// The longest code a literal/length or distance tree may use.
pub(super) const MAX_BITS: u8 = 15;
/// The longest code of the code-length tree.
pub(super) const MAX_CL_BITS: u8 = 7;

/// Code lengths for `freqs` (at most 288 symbols), none longer than
/// `limit`, written to `lens`; unused symbols get 0.
///
/// Like zlib, at least two symbols get a code even when fewer are used (a
/// tree of one code is legal but some decoders refuse it), so a tree of
/// zero or one used symbol comes out as two one-bit codes.
pub(super) fn code_lengths(freqs: &[u32], limit: u8, lens: &mut [u8]) {
    let n = freqs.len();
    debug_assert!(n <= 288 && lens.len() == n && n >= 2);
    lens.fill(0);
    // Sort keys: frequency above, symbol below (frequencies of one block
    // stay far below 2^23).
    let mut keys = [0u32; 288];
    let mut used = 0;
    for (sym, &f) in freqs.iter().enumerate() {
        // Branch-free: written always, kept only when used.
        keys[used] = f.min((1 << 23) - 1) << 9 | sym as u32;
        used += usize::from(f > 0);
    }
    if used < 2 {
        let first = if used == 1 {
            (keys[0] & 511) as usize
        } else {
            0
        };
        lens[first] = 1;
        lens[if first == 0 { 1 } else { 0 }] = 1;
        return;
    }
    let keys = &mut keys[..used];
    keys.sort_unstable();

    // Huffman's algorithm with two queues: the sorted leaves, and the
    // internal nodes, which are made in order of weight.
    let mut weight = [0u32; 576];
    let mut parent = [0u16; 576];
    for (w, k) in weight.iter_mut().zip(keys.iter()) {
        *w = k >> 9;
    }
    let (mut leaf, mut inner, mut next) = (0, used, used);
    for _ in 0..used - 1 {
        let mut pick = || {
            let take_leaf = leaf < used && (inner >= next || weight[leaf] <= weight[inner]);
            if take_leaf {
                leaf += 1;
                leaf - 1
            } else {
                inner += 1;
                inner - 1
            }
        };
        let (a, b) = (pick(), pick());
        weight[next] = weight[a].saturating_add(weight[b]);
        parent[a] = next as u16;
        parent[b] = next as u16;
        next += 1;
    }
    // Depths, reusing `weight`: every node's parent comes after it, the
    // root last.
    let root = next - 1;
    weight[root] = 0;
    for i in (0..root).rev() {
        weight[i] = weight[usize::from(parent[i])] + 1;
    }

    // Count the codes of each length, the too-long ones moved to `limit`,
    // then fix the Kraft sum: each step takes one code off the longest
    // length and splits a shorter code into two one bit longer.
    let limit = usize::from(limit);
    let mut count = [0u32; 16];
    for &d in &weight[..used] {
        count[(d as usize).min(limit)] += 1;
    }
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
    // The least frequent symbols get the longest codes.
    let mut i = 0;
    for l in (1..=limit).rev() {
        for _ in 0..count[l] {
            lens[(keys[i] & 511) as usize] = l as u8;
            i += 1;
        }
    }
}

/// The canonical codes of `lens`, bit-reversed for an LSB-first writer.
pub(super) fn codes(lens: &[u8], codes: &mut [u16]) {
    let mut count = [0u16; 16];
    for &l in lens {
        if l != 0 {
            count[usize::from(l & 15)] += 1;
        }
    }
    let mut next = [0u16; 16];
    let mut code = 0u16;
    for bits in 1..16 {
        code = (code + count[bits - 1]) << 1;
        next[bits] = code;
    }
    for (sym, &l) in lens.iter().enumerate() {
        if l > 0 {
            let c = next[usize::from(l)];
            next[usize::from(l)] += 1;
            codes[sym] = c.reverse_bits() >> (16 - u32::from(l));
        } else {
            codes[sym] = 0;
        }
    }
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
            let mut lens = vec![0u8; 30];
            code_lengths(&freqs, limit, &mut lens);
            assert!(lens.iter().all(|&l| (1..=limit).contains(&l)), "{lens:?}");
            assert!((kraft(&lens) - 1.0).abs() < 1e-12, "{lens:?}");
            // More frequent symbols never get longer codes.
            for i in 1..30 {
                assert!(lens[i] <= lens[i - 1], "{lens:?}");
            }
        }
    }

    #[test]
    fn one_or_no_symbol_still_makes_two_codes() {
        let mut lens = [0u8; 30];
        code_lengths(&[0; 30], 15, &mut lens);
        assert_eq!(&lens[..3], &[1, 1, 0]);
        let mut f = [0u32; 30];
        f[7] = 9;
        code_lengths(&f, 15, &mut lens);
        assert_eq!((lens[0], lens[7], kraft(&lens)), (1, 1, 1.0));
    }

    #[test]
    fn canonical_codes_match_rfc_1951_example() {
        // RFC 1951 §3.2.2: lengths (3, 3, 3, 3, 3, 2, 4, 4) give
        // 010 011 100 101 110 00 1110 1111.
        let lens = [3u8, 3, 3, 3, 3, 2, 4, 4];
        let mut c = [0u16; 8];
        codes(&lens, &mut c);
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
