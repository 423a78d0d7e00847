//! Writing one DEFLATE block of symbols: dynamic Huffman codes, the fixed
//! codes or stored bytes, whichever is smallest (RFC 1951 §3.2.3–§3.2.7).

use std::sync::OnceLock;

use super::bits::BitWriter;
use super::huffman::{
    code_lengths, codes, dist_code, DIST_BASE, DIST_EXTRA, FIXED_LIT_LENS, LENGTH_BASE,
    LENGTH_CODE, LENGTH_EXTRA, MAX_BITS, MAX_CL_BITS,
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

/// A block's codes: lengths and bit-reversed codes of both alphabets.
struct Codes {
    lit_len: [u8; 288],
    lit: [u16; 288],
    dist_len: [u8; 32],
    dist: [u16; 32],
}

fn fixed_codes() -> &'static Codes {
    static FIXED: OnceLock<Codes> = OnceLock::new();
    FIXED.get_or_init(|| {
        let mut c = Codes {
            lit_len: FIXED_LIT_LENS,
            lit: [0; 288],
            dist_len: [5; 32],
            dist: [0; 32],
        };
        codes(&c.lit_len, &mut c.lit);
        codes(&c.dist_len, &mut c.dist);
        c
    })
}

/// The code-length sequence of a dynamic header, run-length coded.
struct Header {
    hlit: usize,
    hdist: usize,
    hclen: usize,
    /// (symbol 0..=18, extra bits value), `n_runs` of them.
    runs: [(u8, u8); LIT_SYMS + DIST_SYMS],
    n_runs: usize,
    cl_len: [u8; 19],
    cl: [u16; 19],
    bits: u64,
}

/// Run-length code `lens` with symbols 16 (repeat the previous 3–6 times),
/// 17 (3–10 zeros) and 18 (11–138 zeros).
fn runs(lens: &[u8], out: &mut [(u8, u8)]) -> usize {
    let mut n = 0;
    let mut push = |x: (u8, u8)| {
        out[n] = x;
        n += 1;
    };
    let mut i = 0;
    while i < lens.len() {
        let l = lens[i];
        let mut run = lens[i..].iter().take_while(|&&x| x == l).count();
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

fn extra_bits(sym: u8) -> u64 {
    match sym {
        16 => 2,
        17 => 3,
        18 => 7,
        _ => 0,
    }
}

fn header(c: &Codes) -> Header {
    let hlit = 257
        + c.lit_len[257..LIT_SYMS]
            .iter()
            .rposition(|&l| l != 0)
            .map_or(0, |p| p + 1);
    let hdist = 1 + c.dist_len[..DIST_SYMS]
        .iter()
        .rposition(|&l| l != 0)
        .unwrap_or(0);
    let mut all = [0u8; LIT_SYMS + DIST_SYMS];
    all[..hlit].copy_from_slice(&c.lit_len[..hlit]);
    all[hlit..hlit + hdist].copy_from_slice(&c.dist_len[..hdist]);
    let mut rl = [(0u8, 0u8); LIT_SYMS + DIST_SYMS];
    let n_runs = runs(&all[..hlit + hdist], &mut rl);
    let mut freq = [0u32; 19];
    for &(s, _) in &rl[..n_runs] {
        freq[usize::from(s)] += 1;
    }
    let mut cl_len = [0u8; 19];
    code_lengths(&freq, MAX_CL_BITS, &mut cl_len);
    let mut cl = [0u16; 19];
    codes(&cl_len, &mut cl);
    let hclen = 4.max(1 + CL_ORDER.iter().rposition(|&s| cl_len[s] != 0).unwrap_or(0));
    let bits = 14
        + 3 * hclen as u64
        + rl[..n_runs]
            .iter()
            .map(|&(s, _)| u64::from(cl_len[usize::from(s)]) + extra_bits(s))
            .sum::<u64>();
    Header {
        hlit,
        hdist,
        hclen,
        runs: rl,
        n_runs,
        cl_len,
        cl,
        bits,
    }
}

/// Bits of the symbols (end-of-block included) under the dynamic codes
/// `lit_len`/`dist_len` and under the fixed codes: (dynamic, fixed).
fn data_bits(s: &Symbols, lit_len: &[u8], dist_len: &[u8]) -> (u64, u64) {
    let (mut dynamic, mut fixed) = (0u64, 0u64);
    for (sym, &f) in s.lit.iter().enumerate() {
        let extra = if sym > END_OF_BLOCK {
            LENGTH_EXTRA[sym - 257]
        } else {
            0
        };
        dynamic += u64::from(f) * u64::from(lit_len[sym] + extra);
        fixed += u64::from(f) * u64::from(FIXED_LIT_LENS[sym] + extra);
    }
    for (sym, &f) in s.dist.iter().enumerate() {
        dynamic += u64::from(f) * u64::from(dist_len[sym] + DIST_EXTRA[sym]);
        fixed += u64::from(f) * u64::from(5 + DIST_EXTRA[sym]);
    }
    (dynamic, fixed)
}

/// The most bits `raw` takes as stored blocks.
fn stored_bits(raw: &[u8]) -> u64 {
    let chunks = raw.len().div_ceil(STORED_MAX).max(1) as u64;
    chunks * (3 + 7 + 32) + 8 * raw.len() as u64
}

/// Write the symbols of `s` as one block (BFINAL = 0), or `raw` (the bytes
/// they encode) stored if that is smaller.
pub(super) fn write(w: &mut BitWriter<'_>, s: &Symbols, raw: &[u8]) {
    if s.list.len() < DYNAMIC_MIN_SYMBOLS {
        // A block this short almost never pays for a code-length header:
        // the fixed codes, or the bytes stored where those are smaller.
        let fixed = fixed_codes();
        let (fixed_bits, _) = data_bits(s, &fixed.lit_len, &fixed.dist_len);
        if stored_bits(raw) < 3 + fixed_bits {
            write_stored(w, raw);
        } else {
            w.put(0b010, 3);
            symbols(w, s, fixed);
        }
        return;
    }
    let mut dynamic = Codes {
        lit_len: [0; 288],
        lit: [0; 288],
        dist_len: [0; 32],
        dist: [0; 32],
    };
    code_lengths(&s.lit, MAX_BITS, &mut dynamic.lit_len[..LIT_SYMS]);
    code_lengths(&s.dist, MAX_BITS, &mut dynamic.dist_len[..DIST_SYMS]);
    let head = header(&dynamic);
    let (dynamic_data, fixed_data) = data_bits(s, &dynamic.lit_len, &dynamic.dist_len);
    let dynamic_bits = 3 + head.bits + dynamic_data;
    let fixed_bits = 3 + fixed_data;
    if stored_bits(raw) < dynamic_bits.min(fixed_bits) {
        write_stored(w, raw);
    } else if fixed_bits <= dynamic_bits {
        w.put(0b010, 3);
        symbols(w, s, fixed_codes());
    } else {
        w.put(0b100, 3);
        codes(&dynamic.lit_len, &mut dynamic.lit);
        codes(&dynamic.dist_len, &mut dynamic.dist);
        w.put((head.hlit - 257) as u32, 5);
        w.put((head.hdist - 1) as u32, 5);
        w.put((head.hclen - 4) as u32, 4);
        for &sym in &CL_ORDER[..head.hclen] {
            w.put(u32::from(head.cl_len[sym]), 3);
        }
        for &(sym, extra) in &head.runs[..head.n_runs] {
            let k = usize::from(sym);
            w.put(u32::from(head.cl[k]), u32::from(head.cl_len[k]));
            let n = extra_bits(sym);
            if n > 0 {
                w.put(u32::from(extra), n as u32);
            }
        }
        symbols(w, s, &dynamic);
    }
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
fn symbols(w: &mut BitWriter<'_>, s: &Symbols, c: &Codes) {
    for &x in &s.list {
        if x & MATCH == 0 {
            let b = x as usize;
            w.put(u32::from(c.lit[b]), u32::from(c.lit_len[b]));
        } else {
            let l = (x & 0xff) as usize;
            let dist = (x & !MATCH) >> 8;
            let lc = usize::from(LENGTH_CODE[l]);
            let sym = 257 + lc;
            // Length code and its extra bits: at most 15 + 5 bits.
            let n = u32::from(c.lit_len[sym]);
            let bits = u32::from(c.lit[sym]) | (l as u32 + 3 - u32::from(LENGTH_BASE[lc])) << n;
            w.put(bits, n + u32::from(LENGTH_EXTRA[lc]));
            // Distance code and its extra bits: at most 15 + 13 bits.
            let dc = dist_code(dist);
            let n = u32::from(c.dist_len[dc]);
            let bits = u32::from(c.dist[dc]) | (dist - u32::from(DIST_BASE[dc])) << n;
            w.put(bits, n + u32::from(DIST_EXTRA[dc]));
        }
    }
    w.put(
        u32::from(c.lit[END_OF_BLOCK]),
        u32::from(c.lit_len[END_OF_BLOCK]),
    );
}
