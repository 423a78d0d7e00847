//! The crate's own DEFLATE compressor, made for WebSocket messages: many
//! small messages per stream, each sync-flushed, with the stream's history
//! (context takeover) the main source of matches.
//!
//! Why not zlib's algorithms: measured on chat-like JSON (200 B–4 KB), zlib
//! level 1 (zlib-rs' `deflate_quick`) writes only fixed Huffman codes, 30%
//! larger than level 6, and levels 2–9 cost 3–7x level 1's CPU; on a busy
//! server much of either is cache misses in per-connection tables of
//! 256+ KiB. This compressor keeps, per connection, a hash table of 16 Ki
//! 16-bit positions (32 KiB) and a chain of 16-bit distances per window
//! position (64 KiB for 15-bit windows, 8 KiB for 12), hashes five bytes,
//! evaluates matches lazily (two candidates per position at level 1),
//! extends each match backwards over the literals and matches before it
//! that its source holds too, and writes each message as the smallest of a
//! dynamic-Huffman, fixed-Huffman or stored block, so small messages get
//! codes fitted to them. The block's symbols and codes live in a
//! per-thread scratch, built over the symbols the block uses only. On the
//! chat JSON of the side-by-side load (`wsx ratio`, 20 connections) level
//! 1 writes 203.0 B per message where zlib-rs level 1 writes ~267 and
//! level 6 ~204, for ~7.5 µs of compression; extending matches backwards
//! took it from 213.3 B for ~4% more CPU (`benches/RESULTS.md`).
//! At the higher levels its chain walks cost what zlib's do for the same
//! bytes (no gain there; `benches/RESULTS.md`).
//!
//! The output is plain raw DEFLATE (RFC 1951): every inflater reads it.

#![deny(unsafe_code)]

mod bits;
mod block;
mod huffman;
mod matcher;
mod symbols;

use std::cell::RefCell;

use bits::BitWriter;
use block::BlockWriter;
use matcher::{FullLinks, Links, Matcher, Search, SizedLinks};
use symbols::Symbols;

/// Input is parsed and written as blocks of at most this many bytes.
const CHUNK: usize = 16 * 1024;

/// The search of each level 1..=9 (level 0 stores).
fn search(level: u32) -> Search {
    // (chain, nice, lazy, good, insert_limit). Every level evaluates
    // matches lazily (a match shorter than `lazy` is emitted only if the
    // next position has no longer one), and every match is extended
    // backwards over the symbols before it (`Matcher::emit`). Level 1
    // looks at 2 candidates per position and does not hash the positions
    // inside matches longer than 48 bytes; level 2 looks at 8 and hashes
    // every position; the search deepens from there. Measured on the chat
    // JSON of the side-by-side load (`node benches/peers/load_ws.js
    // --dump-corpus-dir DIR`, then `wsx ratio DIR`; server-to-client wire
    // bytes and compression µs per message, 20 connections interleaved):
    // level 1 203.0 B for ~7.5 µs (before backward extension, with lazy 16
    // and hashing inside matches up to 32 bytes: 213.3 B for ~7.2 µs),
    // level 2 199.1 B / ~9.8 µs, level 3 198.1 B / ~9.8 µs, level 6
    // 197.3 B / ~13.9 µs, level 9 no fewer bytes than level 6 (zlib-rs
    // level 1: 267 B / ~6–7.5 µs; level 6: 204 B / ~19–21 µs).
    let (chain, nice, lazy, good, insert_limit) = match level {
        1 => (2, 32, 32, 16, 48),
        2 => (8, 128, 32, 16, 258),
        3 => (16, 128, 32, 16, 64),
        4 => (24, 128, 64, 16, 258),
        5 => (32, 258, 128, 32, 258),
        6 => (48, 258, 258, 32, 258),
        7 => (96, 258, 258, 64, 258),
        8 => (256, 258, 258, 128, 258),
        _ => (1024, 258, 258, 258, 258),
    };
    Search {
        chain,
        nice,
        lazy,
        good,
        insert_limit,
    }
}

/// The working state of one block: its symbols and the codes built for
/// them. Nothing in it lasts from one block to the next, so one per thread
/// serves every compressor on that thread (and stays in cache), instead
/// of ~13 KiB more per connection.
struct Scratch {
    symbols: Symbols,
    blocks: BlockWriter,
}

thread_local! {
    static SCRATCH: RefCell<Box<Scratch>> = RefCell::new(Box::new(Scratch::new()));
}

impl Scratch {
    fn new() -> Self {
        Self {
            symbols: Symbols::new(),
            blocks: BlockWriter::new(),
        }
    }
}

/// The match finder, with chain links sized by the window: a fixed-size
/// table for 15-bit windows (the default, indexed without bounds checks:
/// 1–4% faster than a sized one, measured), sized ones below.
enum Lz {
    Full(Matcher<FullLinks>),
    Sized(Matcher<SizedLinks>),
}

/// `$body` with `$m` bound to the matcher of `$lz` (an `Lz` or a reference
/// to one), whichever its links.
macro_rules! with_lz {
    ($lz:expr, $m:ident => $body:expr) => {
        match $lz {
            Lz::Full($m) => $body,
            Lz::Sized($m) => $body,
        }
    };
}

/// A raw-DEFLATE compressor with the backends' contract: sync-flushed
/// output, optional history (set/get dictionary).
pub(crate) struct NativeDeflate {
    level: u32,
    lz: Lz,
}

impl NativeDeflate {
    /// `level` 0..=9; `bits` 9..=15: matches reach back at most
    /// `2^bits - 262` bytes, as zlib's do (so a 9-bit stream also decodes
    /// with an 8-bit window).
    pub(crate) fn new(level: u32, bits: u8) -> Self {
        let search = search(level);
        let lz = if bits >= 15 {
            Lz::Full(Matcher::new(bits, CHUNK, search))
        } else {
            Lz::Sized(Matcher::new(bits, CHUNK, search))
        };
        Self { level, lz }
    }

    /// Replace the search of the level (zlib's `deflateTune` knobs: a
    /// match of `good` cuts the next search to a quarter, one of `lazy` is
    /// taken without trying the next position, one of `nice` ends the
    /// search, `chain` candidates at most), in range as `Deflater::tune`
    /// clamps them. The level's insertion limit stays, so the level's own
    /// values reproduce the level.
    pub(crate) fn tune(&mut self, good: u16, lazy: u16, nice: u16, chain: u16) {
        let search = Search {
            chain,
            nice,
            lazy,
            good,
            insert_limit: search(self.level).insert_limit,
        };
        with_lz!(&mut self.lz, m => m.set_search(search));
    }

    /// Forget the history.
    pub(crate) fn reset(&mut self) {
        with_lz!(&mut self.lz, m => m.reset());
    }

    /// Prime a fresh (or reset) compressor with `window`.
    pub(crate) fn set_dictionary(&mut self, window: &[u8]) {
        with_lz!(&mut self.lz, m => {
            m.reset();
            m.prime(window);
        });
    }

    /// The history between messages (at most the window).
    pub(crate) fn dictionary(&self) -> Vec<u8> {
        with_lz!(&self.lz, m => m.window().to_vec())
    }

    /// Compress `input` and sync-flush, appending to `out`, which then
    /// ends with `00 00 ff ff`.
    pub(crate) fn compress_sync(&mut self, input: &[u8], out: &mut Vec<u8>) {
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => self.compress_with(input, out, &mut scratch),
            // Not reached (compressing does not re-enter), but a fresh
            // scratch would do.
            Err(_) => self.compress_with(input, out, &mut Scratch::new()),
        });
    }

    fn compress_with(&mut self, input: &[u8], out: &mut Vec<u8>, scratch: &mut Scratch) {
        let level = self.level;
        with_lz!(&mut self.lz, m => compress(m, level, input, out, scratch));
    }
}

/// Compress `input` with `matcher` at `level` and sync-flush, appending to
/// `out`.
fn compress<L: Links>(
    matcher: &mut Matcher<L>,
    level: u32,
    input: &[u8],
    out: &mut Vec<u8>,
    scratch: &mut Scratch,
) {
    out.reserve(input.len() / 2 + 16);
    let mut w = BitWriter::new(out);
    for chunk in input.chunks(CHUNK) {
        let from = matcher.append(chunk);
        let end = from + chunk.len();
        if level == 0 {
            block::write_stored(&mut w, matcher.bytes(from));
        } else {
            let symbols = &mut scratch.symbols;
            symbols.clear();
            matcher.parse(from, end, symbols);
            scratch.blocks.write(&mut w, symbols, matcher.bytes(from));
        }
    }
    // The sync flush: an empty stored block.
    block::write_stored(&mut w, &[]);
}

#[cfg(test)]
mod tests;
