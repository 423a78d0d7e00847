//! Writing one DEFLATE block of symbols: dynamic Huffman codes, the fixed
//! codes or stored bytes, whichever is smallest (RFC 1951 §3.2.3–§3.2.7).

use std::sync::OnceLock;

use super::bits::BitWriter;
use super::huffman::{
    dist_code, Code, DIST_BASE, DIST_EXTRA, FIXED_LIT_LENS, LENGTH_BASE, LENGTH_CODE, LENGTH_EXTRA,
    MAX_BITS, MAX_CL_BITS,
};
use super::symbols::{Symbols, DIST_SYMS, END_OF_BLOCK, LIT_SYMS, MATCH};

/// The order code-length code lengths are sent in.
const CL_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];
/// The largest stored block.
const STORED_MAX: usize = 65_535;
/// Blocks of fewer symbols skip building dynamic codes. Measured on chat
/// JSON (`wsx ratio`): below 64 symbols the fixed codes were as small in
/// every size tried (256 B messages: identical bytes, compression 3.8 →
/// 1.7 µs; 512 B: +0.7% bytes; mixed 200 B–4 KiB: +0.02%).
const DYNAMIC_MIN_SYMBOLS: usize = 64;
/// Code lengths a dynamic header can carry: 286 + 30.
const HEADER_LENS: usize = LIT_SYMS + DIST_SYMS;

/// The fixed codes (BTYPE 01): literal/length and distance.
fn fixed_codes() -> &'static (Code, Code) {
    static FIXED: OnceLock<(Code, Code)> = OnceLock::new();
    FIXED.get_or_init(|| {
        let mut lit = Code::new();
        lit.set(&FIXED_LIT_LENS);
        let mut dist = Code::new();
        dist.set(&[5; 32]);
        (lit, dist)
    })
}

/// Extra bits after a code-length symbol.
fn extra_bits(sym: u8) -> u32 {
    match sym {
        16 => 2,
        17 => 3,
        18 => 7,
        _ => 0,
    }
}

/// Builds and writes blocks. It keeps its codes and scratch between blocks
/// (about 11 KiB), so a block costs what its symbols do, not what the
/// alphabets' sizes do.
pub(super) struct BlockWriter {
    lit: Code,
    dist: Code,
    /// The code-length code of the dynamic header.
    cl: Code,
    /// The header's code lengths, then run-length coded as (symbol
    /// 0..=18, extra bits value).
    lens: [u8; HEADER_LENS],
    runs: [(u8, u8); HEADER_LENS],
}

/// What a dynamic header holds besides the code-length code.
struct Header {
    hlit: usize,
    hdist: usize,
    hclen: usize,
    n_runs: usize,
    /// Its size in bits.
    bits: u64,
}

impl BlockWriter {
    /// A writer with empty codes.
    pub(super) fn new() -> Self {
        Self {
            lit: Code::new(),
            dist: Code::new(),
            cl: Code::new(),
            lens: [0; HEADER_LENS],
            runs: [(0, 0); HEADER_LENS],
        }
    }

    /// Write the symbols of `s` as one block (BFINAL = 0), or `raw` (the
    /// bytes they encode) stored if that is smaller.
    pub(super) fn write(&mut self, w: &mut BitWriter<'_>, s: &Symbols, raw: &[u8]) {
        let (fixed_lit, fixed_dist) = fixed_codes();
        if s.list.len() < DYNAMIC_MIN_SYMBOLS {
            // A block this short almost never pays for a code-length
            // header: the fixed codes, or the bytes stored where those are
            // smaller.
            if stored_bits(raw) < 3 + fixed_bits(s) {
                write_stored(w, raw);
            } else {
                w.put(0b010, 3);
                symbols(w, s, fixed_lit, fixed_dist);
            }
            return;
        }
        self.lit.build(&s.lit, MAX_BITS);
        self.dist.build(&s.dist, MAX_BITS);
        let head = self.header();
        let (dynamic_data, fixed_data) = data_bits(s, &self.lit, &self.dist);
        let dynamic_bits = 3 + head.bits + dynamic_data;
        let fixed_bits = 3 + fixed_data;
        if stored_bits(raw) < dynamic_bits.min(fixed_bits) {
            write_stored(w, raw);
        } else if fixed_bits <= dynamic_bits {
            w.put(0b010, 3);
            symbols(w, s, fixed_lit, fixed_dist);
        } else {
            w.put(0b100, 3);
            w.put((head.hlit - 257) as u32, 5);
            w.put((head.hdist - 1) as u32, 5);
            w.put((head.hclen - 4) as u32, 4);
            for &sym in &CL_ORDER[..head.hclen] {
                w.put(u32::from(self.cl.lens[sym]), 3);
            }
            for &(sym, extra) in &self.runs[..head.n_runs] {
                let k = usize::from(sym);
                let n = u32::from(self.cl.lens[k]);
                w.put(
                    u32::from(self.cl.codes[k]) | u32::from(extra) << n,
                    n + extra_bits(sym),
                );
            }
            symbols(w, s, &self.lit, &self.dist);
        }
    }

    /// The dynamic header of the current codes: their lengths run-length
    /// coded, and the code-length code for them.
    fn header(&mut self) -> Header {
        // The alphabets are sent up to their last used symbol (at least
        // 257 and 1 codes).
        let hlit = self.lit.end().max(257);
        let hdist = self.dist.end().max(1);
        let n = hlit + hdist;
        self.lens[..hlit].copy_from_slice(&self.lit.lens[..hlit]);
        self.lens[hlit..n].copy_from_slice(&self.dist.lens[..hdist]);
        let n_runs = runs(&self.lens[..n], &mut self.runs);
        let mut freq = [0u32; 19];
        for &(s, _) in &self.runs[..n_runs] {
            freq[usize::from(s)] += 1;
        }
        self.cl.build(&freq, MAX_CL_BITS);
        let hclen = 4.max(
            1 + CL_ORDER
                .iter()
                .rposition(|&s| self.cl.lens[s] != 0)
                .unwrap_or(0),
        );
        let bits = 14
            + 3 * hclen as u64
            + self
                .cl
                .used()
                .iter()
                .map(|&s| {
                    u64::from(freq[usize::from(s)])
                        * u64::from(u32::from(self.cl.lens[usize::from(s)]) + extra_bits(s as u8))
                })
                .sum::<u64>();
        Header {
            hlit,
            hdist,
            hclen,
            n_runs,
            bits,
        }
    }
}

/// How many bytes from `lens[i]` on equal it (eight compared at a time).
#[inline]
fn run_length(lens: &[u8], i: usize) -> usize {
    let l = lens[i];
    let pattern = u64::from_ne_bytes([l; 8]);
    let mut j = i + 1;
    while let Some(chunk) = lens.get(j..j + 8) {
        let mut x = [0u8; 8];
        x.copy_from_slice(chunk);
        let diff = u64::from_le_bytes(x) ^ pattern;
        if diff != 0 {
            return j + (diff.trailing_zeros() / 8) as usize - i;
        }
        j += 8;
    }
    while j < lens.len() && lens[j] == l {
        j += 1;
    }
    j - i
}

/// Run-length code `lens` into `out` with symbols 16 (repeat the previous
/// 3–6 times), 17 (3–10 zeros) and 18 (11–138 zeros); returns how many.
fn runs(lens: &[u8], out: &mut [(u8, u8)]) -> usize {
    let mut n = 0;
    let mut push = |x: (u8, u8)| {
        out[n] = x;
        n += 1;
    };
    let mut i = 0;
    while i < lens.len() {
        let l = lens[i];
        let mut run = run_length(lens, i);
        i += run;
        if l == 0 {
            while run >= 11 {
                let r = run.min(138);
                push((18, (r - 11) as u8));
                run -= r;
            }
            if run >= 3 {
                push((17, (run - 3) as u8));
                run = 0;
            }
        } else {
            push((l, 0));
            run -= 1;
            while run >= 3 {
                let r = run.min(6);
                push((16, (r - 3) as u8));
                run -= r;
            }
        }
        for _ in 0..run {
            push((l, 0));
        }
    }
    n
}

/// Bits of the symbols (end-of-block included) under the codes `lit` /
/// `dist` and under the fixed codes: (these, fixed). Every symbol used
/// must have a code in `lit` / `dist`.
fn data_bits(s: &Symbols, lit: &Code, dist: &Code) -> (u64, u64) {
    let (mut these, mut fixed) = (0u64, 0u64);
    for &sym in lit.used() {
        let sym = usize::from(sym);
        let Some(&f) = s.lit.get(sym) else { continue };
        let extra = if sym > END_OF_BLOCK {
            LENGTH_EXTRA[sym - 257]
        } else {
            0
        };
        these += u64::from(f) * u64::from(lit.lens[sym] + extra);
        fixed += u64::from(f) * u64::from(FIXED_LIT_LENS[sym] + extra);
    }
    for &sym in dist.used() {
        let sym = usize::from(sym);
        let Some(&f) = s.dist.get(sym) else { continue };
        these += u64::from(f) * u64::from(dist.lens[sym] + DIST_EXTRA[sym]);
        fixed += u64::from(f) * u64::from(5 + DIST_EXTRA[sym]);
    }
    (these, fixed)
}

/// Bits of the symbols (end-of-block included) under the fixed codes,
/// symbol by symbol (for short blocks).
fn fixed_bits(s: &Symbols) -> u64 {
    let mut bits = u64::from(FIXED_LIT_LENS[END_OF_BLOCK]);
    for &x in &s.list {
        bits += if x & MATCH == 0 {
            u64::from(FIXED_LIT_LENS[x as usize])
        } else {
            let lc = usize::from(LENGTH_CODE[(x & 0xff) as usize]);
            let dc = dist_code((x & !MATCH) >> 8);
            u64::from(FIXED_LIT_LENS[257 + lc] + LENGTH_EXTRA[lc] + 5 + DIST_EXTRA[dc])
        };
    }
    bits
}

/// The most bits `raw` takes as stored blocks.
fn stored_bits(raw: &[u8]) -> u64 {
    let chunks = raw.len().div_ceil(STORED_MAX).max(1) as u64;
    chunks * (3 + 7 + 32) + 8 * raw.len() as u64
}

/// `raw` as stored blocks (one empty block if `raw` is empty).
pub(super) fn write_stored(w: &mut BitWriter<'_>, raw: &[u8]) {
    let mut parts = raw.chunks(STORED_MAX);
    let first = parts.next().unwrap_or(&[]);
    for part in std::iter::once(first).chain(parts) {
        w.put(0, 3);
        w.align();
        let len = part.len() as u16;
        w.bytes(&len.to_le_bytes());
        w.bytes(&(!len).to_le_bytes());
        w.bytes(part);
    }
}

/// The symbols and the end-of-block code.
fn symbols(w: &mut BitWriter<'_>, s: &Symbols, lit: &Code, dist: &Code) {
    for &x in &s.list {
        if x & MATCH == 0 {
            let b = x as usize;
            w.put(u32::from(lit.codes[b]), u32::from(lit.lens[b]));
        } else {
            let l = (x & 0xff) as usize;
            let d = (x & !MATCH) >> 8;
            let lc = usize::from(LENGTH_CODE[l]);
            let sym = 257 + lc;
            // Length code and its extra bits: at most 15 + 5 bits.
            let n = u32::from(lit.lens[sym]);
            let bits = u32::from(lit.codes[sym]) | (l as u32 + 3 - u32::from(LENGTH_BASE[lc])) << n;
            w.put(bits, n + u32::from(LENGTH_EXTRA[lc]));
            // Distance code and its extra bits: at most 15 + 13 bits.
            let dc = dist_code(d);
            let n = u32::from(dist.lens[dc]);
            let bits = u32::from(dist.codes[dc]) | (d - u32::from(DIST_BASE[dc])) << n;
            w.put(bits, n + u32::from(DIST_EXTRA[dc]));
        }
    }
    w.put(
        u32::from(lit.codes[END_OF_BLOCK]),
        u32::from(lit.lens[END_OF_BLOCK]),
    );
}
