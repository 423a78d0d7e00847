//! The policy a server or client applies: compression level, window limits,
//! context takeover, the size threshold, memory knobs, fallback offers.

use crate::backend::{Compressor, Tune};
pub use crate::backend::{MAX_WINDOW_BITS, MIN_WINDOW_BITS};
use crate::params::{ClientMaxWindowBits, OfferParams};

/// Policy for permessage-deflate (and the legacy deflate-frame), in either
/// role. Each field maps 1:1 to a `wsx` flag.
///
/// | field | server | client |
/// |---|---|---|
/// | `server_max_window_bits` | compress with at most N bits and say `server_max_window_bits` ≤ N in every response | offer `server_max_window_bits=N` |
/// | `client_max_window_bits` | ask the client for at most N whenever its offer carries `client_max_window_bits` | offer `client_max_window_bits=N`; `None` offers the bare parameter, as browsers do |
/// | `server_no_context_takeover` | always reset the compressor per message (and say so) | ask the server to reset per message |
/// | `client_no_context_takeover` | tell the client to reset per message | reset per message (and hint so in the offer) |
///
/// The default ([`DeflateConfig::fastest`]): the native compressor at
/// level 1, no window limits, context takeover both ways with hibernation,
/// no threshold. It was chosen from the measured CPU / bytes / memory
/// frontier of a busy server (`benches/side-by-side.sh`, see
/// `benches/RESULTS.md`): against zlib-rs level 1 (the default before) it
/// sends 20% fewer server-to-client bytes and holds 59% less memory per
/// busy connection for ~16% more server CPU, and it beats Python
/// websockets, ratchet and wtx on CPU, bytes and memory at once (ratchet's
/// CPU 1.18–1.26x its own in three runs). The level-6 servers (sockudo-ws,
/// yawc, Node ws) still send 4–7% fewer bytes, at 1.6–3.7x its CPU.
/// [`DeflateConfig::balanced`] and [`DeflateConfig::smallest`] are the
/// other points of the frontier worth naming.
///
/// Built from a preset and the `with_*` setters (the struct is
/// `#[non_exhaustive]`: a new field is not a breaking change); the fields
/// stay public to read.
///
/// ```
/// use ws_deflate::DeflateConfig;
/// let cfg = DeflateConfig::default().with_level(1).with_compress_threshold(64);
/// assert!(cfg.validate().is_ok());
/// let bad = DeflateConfig::default().with_server_max_window_bits(Some(16));
/// assert!(bad.validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// Compression level 0..=9 (0 stores, 1 fastest, 9 smallest).
    ///
    /// With the native compressor (the default), matches are evaluated
    /// lazily at every level and the search deepens with it: 2 candidates
    /// per position at level 1, 8 at level 2, 48 at level 6, 1024 at level
    /// 9, and every match is extended backwards over the symbols before
    /// it. Measured with `wsx ratio --sizes mixed` on chat JSON of
    /// 200 B–4 KiB with context takeover, 20 connections interleaved
    /// (shared 2-core machine, `benches/ratio.txt`; CPU moves ~10% between
    /// runs): level 1 ~24 µs per message and 381 B, level 2 ~34 µs / 374 B,
    /// level 5 ~55 µs / 363 B, level 6 ~60 µs / 361 B (zlib-rs level 1:
    /// ~16 µs / 522 B; level 6: ~55 µs / 365 B). On a busy server much of
    /// the cost is cache misses in every connection's tables, which is why
    /// the default is level 1: see
    /// [`DeflateConfig::fastest`]. With [`crate::backend::Compressor::Zlib`]
    /// levels mean what they mean to zlib.
    pub level: u32,
    /// Server: the largest window the server compresses with, announced in
    /// every response. Client: the value offered. 8..=15.
    pub server_max_window_bits: Option<u8>,
    /// Server: the window asked of the client when its offer allows it.
    /// Client: the value offered (`None`: the bare parameter). 8..=15.
    pub client_max_window_bits: Option<u8>,
    /// The server resets its compressor for every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor for every message.
    pub client_no_context_takeover: bool,
    /// Messages (frames, for deflate-frame) smaller than this many bytes go
    /// uncompressed. A fragmented message is judged by its first frame.
    pub compress_threshold: usize,
    /// zlib memLevel 1..=9: the size of the compressor's literal buffer
    /// (`4 << (memLevel + 6)` bytes of pending output plus `3 << (memLevel + 6)`
    /// of symbols). Lower saves memory at some cost in ratio. Honoured by the
    /// zlib-rs and C zlib compressors ([`crate::backend::Compressor::Zlib`]);
    /// the native compressor and miniz_oxide have no such knob and ignore it.
    pub mem_level: u8,
    /// Send a message uncompressed when compressing it would not make it
    /// smaller. Applies to messages sent in one frame; with context takeover
    /// the compressor is reset after such a message so it never references
    /// bytes the peer did not see (a reset is free with the native
    /// compressor, ~4 µs with zlib-rs, and
    /// loses the history, so a `compress_threshold` for tiny messages helps
    /// workloads of many very small messages).
    pub skip_if_not_smaller: bool,
    /// Client only: further offers sent after the primary one, in preference
    /// order (the server accepts the first it can). Empty by default.
    pub fallback_offers: Vec<OfferParams>,
    /// Context hibernation: when the engine reports a connection quiet
    /// ([`ws_ext_core::Encoder::hibernate`]), a context-takeover direction
    /// packs its LZ77 window (at most `2^w` bytes, only as much as really
    /// went through, compressed) and gives its compressor or decompressor
    /// back to the pool; the next message primes a pooled one with the
    /// window (set-dictionary) and carries on unchanged for the peer. An
    /// idle context-takeover connection then holds a few KiB instead of
    /// ~420 KiB. The cost, once per quiet spell (measured on 32 KiB windows
    /// of chat JSON, one connection): ~65 µs per direction to pack, ~30 µs
    /// per direction to restore on the first message after it. No effect with the miniz_oxide backend
    /// (no set-dictionary) or where no context is kept. On by default.
    pub hibernate: bool,
    /// Which compressor: the crate's own ([`Compressor::Native`], the
    /// default) or the zlib-family backend compiled in
    /// ([`Compressor::Zlib`], where levels mean what they mean to zlib).
    /// Either way the output is raw DEFLATE any peer inflates.
    pub compressor: Compressor,
    /// The level's match search replaced (zlib's `deflateTune` knobs:
    /// good, lazy, nice, chain; [`Tune`]), for mapping the frontier on
    /// one's own payloads (`wsx ratio --setting 'NAME=--deflate-tune
    /// G,L,N,C'`). `None` (the default): the level's own. Honoured by the
    /// native and zlib-rs compressors.
    pub tune: Option<Tune>,
    /// How many idle compressors and decompressors are kept for reuse by
    /// connections whose agreement resets a direction per message, and by
    /// hibernating ones. The pool is process-wide, one per capacity
    /// ([`crate::DeflatePool::shared`]), unless a factory is given its own.
    /// 0 disables pooling (state is then freed when it goes idle).
    pub pool_capacity: usize,
}

ws_ext_core::config_setters!(DeflateConfig {
    with_level => level: u32,
    with_server_max_window_bits => server_max_window_bits: Option<u8>,
    with_client_max_window_bits => client_max_window_bits: Option<u8>,
    with_server_no_context_takeover => server_no_context_takeover: bool,
    with_client_no_context_takeover => client_no_context_takeover: bool,
    with_compress_threshold => compress_threshold: usize,
    with_mem_level => mem_level: u8,
    with_skip_if_not_smaller => skip_if_not_smaller: bool,
    with_fallback_offers => fallback_offers: Vec<OfferParams>,
    with_hibernate => hibernate: bool,
    with_pool_capacity => pool_capacity: usize,
    with_compressor => compressor: Compressor,
    with_tune => tune: Option<Tune>,
});

impl Default for DeflateConfig {
    fn default() -> Self {
        Self::fastest()
    }
}

impl DeflateConfig {
    /// The default: least CPU per message. The native compressor at level 1
    /// (lazy matching, 2 candidates per position, matches extended
    /// backwards, per-message Huffman codes), 15-bit windows, context
    /// takeover with hibernation. Measured on a busy echo server (20
    /// connections, JSON chat messages of 200 B–4 KB, Node ws client,
    /// `benches/SIDE-BY-SIDE-9.md`, two runs): 30–31 µs of server CPU per
    /// message and 203 B per echoed 658 B message, fewer than any Rust
    /// peer's defaults (sockudo-ws 205 B) for less CPU than any (ratchet
    /// 35 µs); 147 KiB per busy connection and 22 KiB once quiet (zlib-rs
    /// level 1, the default before the native compressor: ~24 µs, 266 B,
    /// 359 KiB in `SIDE-BY-SIDE-7.md`). `wsx serve` with no deflate flag.
    pub fn fastest() -> Self {
        Self {
            level: 1,
            server_max_window_bits: None,
            client_max_window_bits: None,
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            compress_threshold: 0,
            mem_level: 8,
            skip_if_not_smaller: true,
            fallback_offers: Vec::new(),
            pool_capacity: 8,
            hibernate: true,
            compressor: Compressor::Native,
            tune: None,
        }
    }

    /// The middle of the frontier: the native compressor at level 2 (lazy
    /// matching, 8 candidates, every position hashed). Same measurement as
    /// [`DeflateConfig::fastest`]: ~35–36 µs per message, 199.5 B (2% fewer
    /// bytes for 12–21% more CPU), Node ws's bytes at about ratchet's CPU.
    /// `wsx serve --deflate-level 2`. (Before the native compressor this
    /// preset was zlib-rs level 6 with a 14-bit window: ~37 µs, 214 B.)
    pub fn balanced() -> Self {
        Self {
            level: 2,
            ..Self::fastest()
        }
    }

    /// Fewest bytes, for thin links where CPU is cheap (a mobile client, a
    /// server with few connections): level 9, 15-bit windows. On chat JSON
    /// (`benches/ratio.txt`, 20 connections) 2.5% fewer bytes than zlib-rs
    /// level 6 (355 vs 365 B) for ~1.6x its CPU (89 vs 55 µs); native level
    /// 5 writes fewer bytes than zlib-rs level 6 at about its CPU (363 B,
    /// 55 µs), and zlib-rs level 9 (`--compressor zlib`) about level 9's
    /// bytes for less (356 B, 67 µs). `wsx serve --deflate-level 9`.
    pub fn smallest() -> Self {
        Self {
            level: 9,
            ..Self::fastest()
        }
    }

    /// For fan-out (one message to many connections, `wsx::broadcast`): the
    /// server resets its compressor for every message
    /// (`server_no_context_takeover`, which a server may put in its
    /// response even when the client did not offer it, RFC 7692 §7.1.1.1),
    /// so its output for a message depends on the message alone and is
    /// compressed once and shared by every recipient with the same
    /// settings instead of once per recipient. The client keeps its
    /// context (what it sends is not shared). Level 6: the compression
    /// cost is paid once per message while the bytes are paid once per
    /// recipient, so the level that saves bytes wins as soon as a message
    /// has more than one recipient. Measured with `wsx ratio --settings
    /// no-ctx,no-ctx-l1,default,level6 --sizes mixed,4096 --contexts 4`
    /// (with the zlib-rs compressor, before the native one became the
    /// default; shared 2-core machine), chat JSON of 200 B–4 KiB: without
    /// context takeover, level 6 sends 562 B per message for ~24 µs of
    /// compression, level 1 740 B for ~9 µs; 4 KiB messages 1116 B / 41 µs
    /// against 1495 B / 15 µs. To 100 recipients level 6 saves ~18 KB per
    /// message for ~15 µs more, once. Against per-recipient context
    /// takeover at level 1 (the default: 522 B, ~5–8 µs *per recipient*,
    /// ~420 KiB of compressor per busy connection, 14 KiB hibernated), the
    /// preset sends ~8% more bytes for 1/30th of the CPU at 100
    /// recipients, if each recipient compressed for itself (`wsx::broadcast`
    /// now serves context-takeover members from cohorts instead, see
    /// [`DeflateConfig::broadcast_cohorts`]). (The 46 KiB per busy
    /// connection left here is the decompressor of the client's direction,
    /// which keeps its context; hibernation packs it. Add
    /// `client_no_context_takeover` to drop it too, at some cost in
    /// upstream bytes.)
    ///
    /// The cost of resetting: each message is compressed without the
    /// history of the earlier ones, so small similar messages (chat JSON)
    /// compress worse than with context takeover: on `benches/broadcast.sh`
    /// (1000 receivers, chat JSON, run 7) 540 B per delivery against 350 B
    /// for [`DeflateConfig::broadcast_cohorts`], at 4.5 against 5.0 µs of
    /// server CPU per delivery. What it buys:
    /// sharing that nothing can break (every recipient with the same
    /// settings shares every frame, whatever it was sent before, in any
    /// number of groups), and no compressor per connection at all.
    /// `wsx serve --broadcast --server-no-context-takeover
    /// --deflate-level 6`.
    pub fn broadcast() -> Self {
        Self {
            level: 6,
            server_no_context_takeover: true,
            ..Self::fastest()
        }
    }

    /// For servers whose sends are mostly broadcasts (`wsx::broadcast`):
    /// level 6 with context takeover. A broadcast group serves members
    /// with context takeover from *cohorts* (members that were sent the
    /// same messages share one compressor, run once per message for all
    /// of them), so the level's cost is paid once per message per cohort
    /// while its bytes, and context takeover's, are saved once per
    /// recipient. A member in a cohort holds no compressor of its own.
    ///
    /// Measured with `benches/broadcast.sh` (1000 receivers, a tenth
    /// joining half-way, chat JSON of 200 B–4 KiB; `benches/RESULTS.md`,
    /// "Broadcast", run 7): 5.0 µs of server CPU and 350 B per delivery,
    /// against 4.5 µs / 540 B for [`DeflateConfig::broadcast`], 5.0 µs /
    /// 395 B for the default (level 1, also served by cohorts), Python
    /// websockets' `broadcast()` 46.2 µs / 387 B and Node ws' `send`
    /// loop 140 µs / 353 B.
    ///
    /// When not to use it: a member that leaves its cohort (it missed a
    /// message under `DropOldest`, or was sent a message of its own)
    /// compresses for itself at level 6 until the next cohort starts;
    /// connections in several groups, or that get many direct messages,
    /// do better with [`DeflateConfig::broadcast`]. `wsx serve
    /// --broadcast --deflate-level 6`.
    pub fn broadcast_cohorts() -> Self {
        Self {
            level: 6,
            ..Self::default()
        }
    }
}

/// A local configuration value out of range. Not a peer error: fix the
/// configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `level` is not 0..=9.
    #[error("compression level {0} is out of range 0..=9")]
    Level(u32),
    /// A window-bits field is not 8..=15.
    #[error("{name} = {value} is out of range 8..=15")]
    WindowBits {
        /// The field.
        name: &'static str,
        /// Its value.
        value: u8,
    },
    /// `mem_level` is not 1..=9.
    #[error("mem_level {0} is out of range 1..=9")]
    MemLevel(u8),
    /// A `tune` knob is out of range ([`Tune::is_valid`]).
    #[error("tune {0:?} is out of range ({ranges})", ranges = Tune::RANGES)]
    Tune(Tune),
}

impl DeflateConfig {
    /// Check every field's range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.level > 9 {
            return Err(ConfigError::Level(self.level));
        }
        if !(1..=9).contains(&self.mem_level) {
            return Err(ConfigError::MemLevel(self.mem_level));
        }
        if let Some(t) = self.tune.filter(|t| !t.is_valid()) {
            return Err(ConfigError::Tune(t));
        }
        let bits = |name, v: Option<u8>| match v {
            Some(b) if !(MIN_WINDOW_BITS..=MAX_WINDOW_BITS).contains(&b) => {
                Err(ConfigError::WindowBits { name, value: b })
            }
            _ => Ok(()),
        };
        bits("server_max_window_bits", self.server_max_window_bits)?;
        bits("client_max_window_bits", self.client_max_window_bits)?;
        for o in &self.fallback_offers {
            bits("fallback server_max_window_bits", o.server_max_window_bits)?;
            if let ClientMaxWindowBits::Value(b) = o.client_max_window_bits {
                bits("fallback client_max_window_bits", Some(b))?;
            }
        }
        Ok(())
    }

    /// The primary client offer this configuration makes.
    pub fn primary_offer(&self) -> OfferParams {
        OfferParams {
            server_no_context_takeover: self.server_no_context_takeover,
            client_no_context_takeover: self.client_no_context_takeover,
            server_max_window_bits: self.server_max_window_bits,
            client_max_window_bits: match self.client_max_window_bits {
                Some(b) => ClientMaxWindowBits::Value(b),
                None => ClientMaxWindowBits::Bare,
            },
        }
    }

    /// Every client offer, most preferred first: the primary one, then
    /// [`DeflateConfig::fallback_offers`].
    pub fn client_offers(&self) -> Vec<OfferParams> {
        let mut v = vec![self.primary_offer()];
        v.extend(self.fallback_offers.iter().cloned());
        v
    }
}
