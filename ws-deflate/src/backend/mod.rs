//! The compression backends behind one small interface: a raw-DEFLATE
//! compressor that sync-flushes ([`Deflater`]) and a raw-DEFLATE
//! decompressor that stops at an output limit ([`Inflater`]).
//!
//! A [`Deflater`] runs one of two compressors ([`Compressor`]): the
//! crate's own (module `native`, the default; safe Rust, no feature
//! needed) or the zlib-family one of the feature compiled in:
//!
//! - Feature `zlib-rs` (default): zlib-rs through its zlib C API
//!   (`libz-rs-sys`, module `zlib`), for what flate2 cannot do: memLevel,
//!   `deflateTune`, and getting and setting the LZ77 window of both
//!   directions (context hibernation). Window bits 9..=15 honoured.
//! - Feature `miniz` alone: flate2 with miniz_oxide. Its compressor always
//!   uses a 32 KiB window, so [`LIMITS_COMPRESSOR_WINDOW`] is false and the
//!   codec never compresses where a smaller window was agreed (even with
//!   the native compressor, which could: this build stays conservative).
//!
//! Decompressors always use a 15-bit window: an inflater may use a larger
//! window than the sender's (RFC 7692 §7.1.2), so this is always safe.
//! A smaller one would save nothing with these backends: zlib-rs (0.6)
//! always allocates a 32 KiB + 64 window whatever the window bits, and
//! miniz_oxide's inflate state has a fixed 32 KiB dictionary.
//!
//! zlib-rs is built with its `std` feature, i.e. runtime CPU-feature
//! detection of its SIMD paths. Measured A/B on the same tree (2-core
//! AMD EPYC, shared and loaded; `cargo bench -p benches --bench
//! overhead_paired`, raw zlib-rs inflate of chat-like JSON, 3 interleaved
//! runs each): 64 KiB messages ~1.13 → ~1.93 GB/s, 1 MiB ~1.07 → ~1.67 GB/s,
//! 4 KiB ~0.59 → ~0.82 GB/s, 512 B +5–10%; compression (level 6) within
//! noise (`--example compress_1k`).

use std::mem::MaybeUninit;

#[cfg(not(feature = "zlib-rs"))]
mod miniz;
mod native;
#[cfg(feature = "zlib-rs")]
mod zlib;
#[cfg(feature = "zlib-rs")]
mod zlib_api;

#[cfg(feature = "zlib-c")]
mod zlib_c;

#[cfg(not(feature = "zlib-rs"))]
use miniz::{RawDeflate, RawInflate};
#[cfg(all(feature = "zlib-rs", not(feature = "zlib-c")))]
use zlib::RawDeflate;
#[cfg(feature = "zlib-rs")]
use zlib::RawInflate;
#[cfg(feature = "zlib-c")]
use zlib_c::RawDeflate;

/// The smallest window-bits value RFC 7692 allows.
pub const MIN_WINDOW_BITS: u8 = 8;
/// The largest window-bits value (a 32 KiB LZ77 window, RFC 1951's).
pub const MAX_WINDOW_BITS: u8 = 15;

#[cfg(not(any(feature = "zlib-rs", feature = "miniz")))]
compile_error!("ws-deflate needs a backend: enable feature `zlib-rs` (default) or `miniz`");

/// The name of the compression backend compiled in.
#[cfg(all(feature = "zlib-rs", not(feature = "zlib-c")))]
pub const BACKEND: &str = "zlib-rs";
/// The name of the compression backend compiled in.
#[cfg(feature = "zlib-c")]
pub const BACKEND: &str = "zlib (compress) + zlib-rs (inflate)";
/// The name of the compression backend compiled in.
#[cfg(not(feature = "zlib-rs"))]
pub const BACKEND: &str = "miniz_oxide";

/// Whether the compressor can use a window smaller than 15 bits.
#[cfg(feature = "zlib-rs")]
pub const LIMITS_COMPRESSOR_WINDOW: bool = true;
/// Whether the compressor can use a window smaller than 15 bits.
#[cfg(not(feature = "zlib-rs"))]
pub const LIMITS_COMPRESSOR_WINDOW: bool = false;

/// Whether compressors and decompressors can be primed with a window
/// (set-dictionary), which context hibernation needs
/// ([`crate::DeflateConfig::hibernate`]). flate2's miniz_oxide backend has
/// no set-dictionary: with it, a quiet context-takeover connection keeps
/// its state.
pub const CAN_HIBERNATE: bool = cfg!(feature = "zlib-rs");

/// The window the compressor really uses when `bits` were agreed.
///
/// Raw DEFLATE with an 8-bit window is rejected by zlib ≥ 1.2.9 and by
/// zlib-rs (which would panic). zlib-rs, like zlib, never emits a distance
/// above `(1 << bits) - 262`, i.e. 250 for 9 bits, so a 9-bit compressor's
/// output decodes with a 256-byte window: 8 is compressed as 9 (Chromium's
/// and Node's choice; `tests/window8.rs` checks it against an 8-bit
/// inflater).
pub const fn compressor_window_bits(bits: u8) -> u8 {
    if bits < 9 {
        9
    } else {
        bits
    }
}

/// Whether this backend can compress for a peer that agreed `bits`.
pub const fn can_compress_with(bits: u8) -> bool {
    LIMITS_COMPRESSOR_WINDOW || bits >= MAX_WINDOW_BITS
}

/// The bytes a sync flush ends with, stripped from every message.
pub const SYNC_TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// A backend failure, with the backend's own words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The compressor failed (a local fault).
    #[error("compressor error: {0}")]
    Compress(String),
    /// The compressed data is corrupt.
    #[error("corrupt compressed data: {0}")]
    Corrupt(String),
    /// Inflating would exceed the output limit.
    #[error("decompressed data exceeds the limit of {0} bytes")]
    TooBig(usize),
}

/// Which DEFLATE compressor a [`Deflater`] runs. Both write plain raw
/// DEFLATE that any inflater reads; they differ in cost and ratio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Compressor {
    /// The crate's own compressor for WebSocket messages (the default):
    /// small hash chains over 5-byte strings (tables of 32 KiB plus two
    /// bytes per window byte: 96 KiB for 15-bit windows, 40 KiB for 12;
    /// plus a buffer of the window and up to one chunk of input, which
    /// grows with the stream: at most 48 KiB for 15-bit windows), lazy
    /// matching (2 candidates per position at level 1), each match extended
    /// backwards over the symbols before it, and per message the smallest
    /// of dynamic-Huffman, fixed-Huffman and stored blocks. On chat-like
    /// JSON its level 1 sends ~24–27% fewer bytes than zlib level 1, and
    /// its level 5 fewer than zlib level 6 at about zlib's CPU (the crate
    /// docs and `benches/RESULTS.md`).
    /// Safe Rust.
    #[default]
    Native,
    /// The zlib-family compressor compiled in ([`BACKEND`]): zlib-rs by
    /// default, C zlib with feature `zlib-c`, miniz_oxide with `miniz`
    /// alone. Levels mean what they mean to zlib.
    Zlib,
}

impl Compressor {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Compressor::Native => "native",
            Compressor::Zlib => "zlib",
        }
    }

    /// Parse a name given by [`Compressor::name`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "native" => Some(Compressor::Native),
            "zlib" => Some(Compressor::Zlib),
            _ => None,
        }
    }
}

/// The match search of a level, replaced: zlib's `deflateTune` knobs,
/// honoured by the native and zlib-rs compressors (miniz_oxide has no such
/// knob). The native compressor keeps the level's insertion limit (which
/// positions inside long matches it hashes), and parses greedily when
/// `lazy` is 5 or less (its shortest match), lazily above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tune {
    /// With a match this long pending, the next position's search is cut
    /// to a quarter of the chain.
    pub good: u16,
    /// A match this long is taken without trying the next position.
    pub lazy: u16,
    /// A match this long ends the search (3..=258).
    pub nice: u16,
    /// The most candidates examined per position (at least 1).
    pub chain: u16,
}

impl Tune {
    /// The ranges [`Tune::is_valid`] accepts, as error messages give them.
    pub const RANGES: &'static str = "nice 3..=258, lazy and good at most 258, chain 1..=4096";

    /// Whether the knobs are in range ([`Tune::RANGES`]).
    pub fn is_valid(&self) -> bool {
        (3..=258).contains(&self.nice)
            && self.lazy <= 258
            && self.good <= 258
            && (1..=4096).contains(&self.chain)
    }
}

/// The settings a compressor is created with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeflaterParams {
    /// Level 0..=9.
    pub level: u32,
    /// Agreed window bits 8..=15 (8 is compressed as 9).
    pub window_bits: u8,
    /// memLevel 1..=9 (zlib-rs only).
    pub mem_level: u8,
    /// Which compressor.
    pub compressor: Compressor,
    /// The level's search replaced (`None`: the level's own).
    pub tune: Option<Tune>,
}

/// The compressor behind a [`Deflater`].
enum Engine {
    Native(Box<native::NativeDeflate>),
    Zlib(RawDeflate),
}

/// Output beyond this much capacity is released after each message.
const SCRATCH_KEEP: usize = 16 * 1024;

/// A raw-DEFLATE compressor with a reusable output buffer.
pub struct Deflater {
    z: Engine,
    params: DeflaterParams,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflater")
            .field("params", &self.params)
            .finish()
    }
}

impl Deflater {
    /// A compressor for `params`. The caller validated the ranges
    /// ([`crate::DeflateConfig::validate`]); out-of-range values are clamped.
    pub fn new(params: DeflaterParams) -> Self {
        let level = params.level.min(9);
        let bits = compressor_window_bits(params.window_bits.min(MAX_WINDOW_BITS));
        let z = match params.compressor {
            Compressor::Native => Engine::Native(Box::new(native::NativeDeflate::new(level, bits))),
            Compressor::Zlib => {
                Engine::Zlib(RawDeflate::new(level, bits, params.mem_level.clamp(1, 9)))
            }
        };
        let mut d = Self {
            z,
            params,
            scratch: Vec::new(),
        };
        d.apply_tune();
        d
    }

    /// Apply `params.tune`, if any (again after a reset: zlib's resets
    /// restore the level's search).
    fn apply_tune(&mut self) {
        if let Some(t) = self.params.tune {
            self.tune(t.good, t.lazy, t.nice, t.chain);
        }
    }

    /// The settings this compressor was created with.
    pub fn params(&self) -> DeflaterParams {
        self.params
    }

    /// Forget the LZ77 window: the next output starts a fresh stream.
    pub fn reset(&mut self) {
        match &mut self.z {
            Engine::Native(n) => n.reset(),
            Engine::Zlib(z) => z.reset(),
        }
        self.apply_tune();
        if self.scratch.capacity() > SCRATCH_KEEP {
            self.scratch = Vec::new();
        }
    }

    /// zlib's `deflateTune`: the match search of the current level,
    /// replaced (zlib-rs and the native compressor; miniz_oxide has no
    /// such knob). Out-of-range values are clamped ([`Tune::is_valid`]);
    /// the zlib compressor takes a chain of at least 4 (zlib quarters the
    /// chain once a good match is pending, and zlib-rs would count a
    /// chain of 0 down through wrap-around: found by the
    /// `deflate_roundtrip` fuzz target).
    pub fn tune(&mut self, good: u16, lazy: u16, nice: u16, chain: u16) {
        let (good, lazy, nice) = (good.min(258), lazy.min(258), nice.clamp(3, 258));
        match &mut self.z {
            Engine::Native(n) => n.tune(good, lazy, nice, chain.clamp(1, 4096)),
            Engine::Zlib(z) => z.tune(good, lazy, nice, chain.clamp(4, 4096)),
        }
    }

    /// Prime a fresh (or just reset) compressor with `window`: the last
    /// bytes of the stream the peer has seen, which matches may then refer
    /// to. Only where [`CAN_HIBERNATE`].
    pub fn set_dictionary(&mut self, window: &[u8]) -> Result<(), BackendError> {
        match &mut self.z {
            Engine::Native(n) => {
                n.set_dictionary(window);
                Ok(())
            }
            Engine::Zlib(z) => z.set_dictionary(window),
        }
    }

    /// The LZ77 window between messages: the last bytes compressed (at most
    /// the window size; empty where not [`CAN_HIBERNATE`]).
    pub fn dictionary(&self) -> Vec<u8> {
        match &self.z {
            Engine::Native(n) => n.dictionary(),
            Engine::Zlib(z) => z.dictionary(),
        }
    }

    /// Compress `input` and sync-flush, returning the output (which ends
    /// with `00 00 ff ff` unless nothing at all was emitted, as when an
    /// empty input follows a flush). The slice lives until the next call.
    pub fn compress_sync(&mut self, input: &[u8]) -> Result<&[u8], BackendError> {
        self.scratch.clear();
        if self.scratch.capacity() > SCRATCH_KEEP && input.len() < SCRATCH_KEEP / 2 {
            self.scratch.shrink_to(SCRATCH_KEEP);
        }
        let z = match &mut self.z {
            Engine::Native(n) => {
                n.compress_sync(input, &mut self.scratch);
                return Ok(&self.scratch);
            }
            Engine::Zlib(z) => z,
        };
        let mut pos = 0;
        loop {
            let want = (input.len() - pos) / 2 + 64;
            if self.scratch.capacity() - self.scratch.len() < 64 {
                self.scratch.reserve(want.max(self.scratch.len()));
            }
            let len = self.scratch.len();
            let spare = self.scratch.spare_capacity_mut();
            let room = spare.len();
            let (consumed, produced) = z.step(&input[pos..], spare)?;
            if produced > room {
                return Err(BackendError::Compress(
                    "compressor reported more output than it was given room for".to_owned(),
                ));
            }
            // SAFETY: the compressor initialised exactly `produced` bytes
            // at the start of the spare capacity (checked to fit above).
            unsafe { self.scratch.set_len(len + produced) };
            pos += consumed;
            if pos == input.len() && produced < room {
                // Output space was left over: the flush is complete.
                return Ok(&self.scratch);
            }
            if consumed == 0 && produced == 0 {
                return Err(BackendError::Compress(
                    "compressor made no progress".to_owned(),
                ));
            }
        }
    }
}

/// How an [`Inflater::inflate`] call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InflateEnd {
    /// All input consumed; every byte it encodes is in the output.
    Consumed,
    /// A block with BFINAL=1 ended the DEFLATE stream after this many input
    /// bytes; the inflater must be reset before it takes more.
    StreamEnd(usize),
}

/// A raw-DEFLATE decompressor (15-bit window) that never writes past a
/// limit.
pub struct Inflater {
    d: RawInflate,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater").finish_non_exhaustive()
    }
}

impl Default for Inflater {
    fn default() -> Self {
        Self::new()
    }
}

impl Inflater {
    /// A fresh decompressor.
    pub fn new() -> Self {
        Self {
            d: RawInflate::new(),
        }
    }

    /// Forget the window: the next input starts a new DEFLATE stream.
    pub fn reset(&mut self) {
        self.d.reset();
    }

    /// Prime a fresh (or just reset) decompressor with `window`: the last
    /// bytes of the peer's stream, which its next matches may refer to.
    /// Only where [`CAN_HIBERNATE`].
    pub fn set_dictionary(&mut self, window: &[u8]) -> Result<(), BackendError> {
        self.d.set_dictionary(window)
    }

    /// The window between messages: the last bytes inflated (at most
    /// 32 KiB; empty where not [`CAN_HIBERNATE`]).
    pub fn dictionary(&self) -> Vec<u8> {
        self.d.dictionary()
    }

    /// Inflate `input`, appending to `out`, so that `out.len()` never
    /// exceeds `limit`: the inflater is only ever given output space up to
    /// the limit, and when it is full it is asked for one more byte; if one
    /// comes, the result is [`BackendError::TooBig`].
    ///
    /// The caller should reserve what it expects the output to be; when
    /// that is not enough, the buffer grows by doubling (never reserving
    /// past the limit).
    pub fn inflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<InflateEnd, BackendError> {
        if input.is_empty() {
            // Every earlier call ended with output space to spare, so the
            // inflater holds no pending output.
            return Ok(InflateEnd::Consumed);
        }
        let mut pos = 0;
        loop {
            if out.len() >= limit {
                return self.probe_at_limit(&input[pos..], limit).map(|e| match e {
                    InflateEnd::StreamEnd(n) => InflateEnd::StreamEnd(pos + n),
                    c => c,
                });
            }
            let room = limit - out.len();
            if out.capacity() == out.len() {
                // Double (amortised O(1) per byte), start from a guess
                // based on the input, never reserve past the limit.
                let grow = (input.len() - pos)
                    .saturating_mul(3)
                    .max(out.len())
                    .max(256)
                    .min(room);
                out.reserve_exact(grow);
            }
            let spare = out.spare_capacity_mut();
            let spare_len = spare.len().min(room);
            let (consumed, produced, ended) =
                self.d.step(&input[pos..], &mut spare[..spare_len])?;
            if produced > spare_len {
                return Err(BackendError::Corrupt(
                    "decompressor reported more output than it was given room for".to_owned(),
                ));
            }
            // SAFETY: the decompressor initialised exactly `produced` bytes
            // at the start of the spare capacity (checked to fit above).
            unsafe { out.set_len(out.len() + produced) };
            pos += consumed;
            if ended {
                return Ok(InflateEnd::StreamEnd(pos));
            }
            if pos == input.len() && produced < spare_len {
                // All input read and space left over: nothing is pending.
                return Ok(InflateEnd::Consumed);
            }
            if consumed == 0 && produced == 0 && spare_len > 0 {
                return Err(BackendError::Corrupt(
                    "decompressor made no progress".to_owned(),
                ));
            }
        }
    }

    /// At the limit: any further output byte means the message is too big.
    fn probe_at_limit(&mut self, input: &[u8], limit: usize) -> Result<InflateEnd, BackendError> {
        let mut pos = 0;
        let mut probe = [MaybeUninit::<u8>::uninit(); 1];
        loop {
            let (consumed, produced, ended) = self.d.step(&input[pos..], &mut probe)?;
            if produced > 0 {
                return Err(BackendError::TooBig(limit));
            }
            pos += consumed;
            if ended {
                return Ok(InflateEnd::StreamEnd(pos));
            }
            if pos == input.len() {
                return Ok(InflateEnd::Consumed);
            }
            if consumed == 0 {
                return Err(BackendError::Corrupt(
                    "decompressor made no progress".to_owned(),
                ));
            }
        }
    }
}
