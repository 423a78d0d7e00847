//! Memory per connection, measured.
//!
//! Figures from `cargo run --release -p ws-deflate --example memory`
//! (counting global allocator; 200 server-side connections, each received
//! and sent one 4 KiB message, then measured idle; x86-64, Rust 1.95; the
//! native compressor's column re-measured 2026-12-07, the others measured
//! with zlib-rs as the compressor).
//! "Pool" is the factory's [`crate::DeflatePool`], shared by all
//! connections; its share per connection shrinks as connections grow.
//!
//! ## One state alone
//!
//! | state | native compressor (default) | zlib-rs | miniz_oxide |
//! |---|---|---|---|
//! | compressor, 15-bit window, memLevel 8 | 107 KiB after one 4 KiB message, 151 KiB after 64 KiB (its window buffer grows with the stream) | 371 KiB | 312 KiB |
//! | compressor, 15-bit window, memLevel 1 | the same (no memLevel) | 260 KiB | 312 KiB (no memLevel) |
//! | compressor, 9-bit window, memLevel 1 | 132 KiB after 64 KiB (its tables do not shrink with the window) | 134 KiB | — (cannot limit its window: sends uncompressed) |
//! | decompressor (always a 15-bit window) | — (zlib-rs') | 46 KiB | 42 KiB |
//!
//! Why the decompressor is not sized to the agreed window: it would save
//! nothing with these backends. zlib-rs 0.6 allocates a 32 KiB + 64 window
//! whatever window bits it is given (`InflateAllocOffsets` uses
//! `MAX_WBITS`), flate2 re-creates (reallocates) a zlib-rs inflater made
//! with other than 15 bits on every reset, and miniz_oxide's inflate state
//! has a fixed 32 KiB dictionary. Likewise zlib-rs' compressor hash table
//! is a compile-time 64 Ki entries (`HASH_SIZE`), through its Rust API and
//! through `libz-rs-sys`'s `deflateInit2` alike: memLevel only sizes the
//! literal buffers, which the `mem_level` setting already passes through.
//!
//! The inflated output is not kept between messages: each message gets a
//! fresh buffer sized from the input and the previous frame's ratio (at
//! most 16x the input, never past the message budget), handed over as the
//! message's `Bytes`. Re-measured after that change
//! (`MSGS=10 MSG_SIZE=1024|4096`, interleaved with the previous build):
//! +8 bytes per connection, the tables below are unchanged.
//!
//! ## Per idle connection
//!
//! | mode | native compressor (default) | zlib-rs | miniz_oxide |
//! |---|---|---|---|
//! | context takeover both ways (default policy) | 150 KiB | 420 KiB | 356 KiB |
//! | context takeover, memLevel 1 | 149 KiB | 309 KiB | 356 KiB |
//! | context takeover, server window 9 bits, memLevel 1 | 151 KiB | 183 KiB | 42 KiB (not compressing) |
//! | `server_no_context_takeover` (compressor pooled) | 44.6 KiB | 48.5 KiB | 44 KiB |
//! | `client_no_context_takeover` (decompressor pooled) | 100 KiB | 374 KiB | 314 KiB |
//! | no context takeover both ways (both pooled) | 0.0 KiB + pool | **0.2 KiB** + pool (2 states ≈ 417 KiB shared: 2.3 KiB/conn at 200 conns) | 0.2 KiB + pool |
//! | no context takeover both ways, pool disabled | 0.0 KiB | 0.2 KiB | 0.2 KiB |
//!
//! ## Context hibernation (default)
//!
//! The tables above are what a connection holds while it is busy. With
//! [`crate::DeflateConfig::hibernate`] (on by default) and an engine that
//! reports quiet connections (`wsx`'s tokio adapter after
//! `WebSocketConfig::hibernate_after`, default 1 s), a context-takeover
//! direction keeps only its LZ77 window — at most `2^w` bytes, only as
//! much as really went through — packed with DEFLATE level 6, and gives
//! its compressor and decompressor back to the pool. Measured with
//! `benches/side-by-side.sh` (Node ws client; 1000 connections, each
//! echoing K JSON messages of 216 B–4 KB, then idle ≥ 2 s; server RSS
//! growth / 1000; `benches/RESULTS.md`):
//!
//! | `wsx serve` | K = 3 | K = 30 |
//! |---|---:|---:|
//! | idle, hibernated (default: level 1) | **10.1 KiB** | **22.8 KiB** |
//! | idle, hibernated, level 6 | 9.7 KiB | 21.8 KiB |
//! | busy (right after the messages), default | 338 KiB | 359 KiB |
//! | busy, with the `zlib-c` compressor | 126 KiB | 194 KiB |
//! | before hibernation (`287cef6`, level 6) | 354 KiB | 374 KiB |
//! | no deflate at all (engine alone) | 3.1 KiB | 3.1 KiB |
//!
//! After 30 messages each packed window is ~6.6 KiB (30 KiB of chat JSON).
//! The rest of the idle figure is the engine's own buffers and task, the
//! pool (8 compressors and 8 decompressors shared by all connections) and
//! allocator slack. `wsx serve` calls glibc's `malloc_trim` every 2 s so
//! pages freed by hibernation go back to the OS (without it, in an earlier
//! measurement with `wsx load` and 1 KiB messages: 60 instead of 42 KiB).
//!
//! The cost, once per quiet spell: the window is read from the state
//! (get-dictionary) and packed (~65 µs per direction for 32 KiB of chat
//! JSON), and the first message after it primes a pooled state with the
//! window (unpack + set-dictionary, ~30 µs per direction). A busy
//! connection keeps no copy of its windows.
//!
//! ## Targets, honestly
//!
//! - **Idle connection with no context takeover: < 8 KiB — met** (about
//!   150–200 bytes of codec structs; state lives only while a message is
//!   being compressed or inflated, then returns to the pool).
//! - **≤ 48 KiB per connection with context takeover at the default policy
//!   — met for idle connections by hibernation (above); missed for busy
//!   ones**, for the reasons that follow. A kept decompressor alone is 42–46 KiB (a full 32 KiB window
//!   plus state: both backends allocate the full window whatever the peer
//!   agreed). The compressor dominates: zlib-rs allocates a fixed
//!   64 Ki-entry hash table (128 KiB) whatever memLevel says, plus two
//!   window-sized buffers; memLevel only shrinks the literal buffers (from
//!   112 KiB at 8 to under 1 KiB at 1). miniz_oxide has fixed 32 Ki-entry
//!   hash chains. Reaching 48 KiB would need a compressor with a
//!   memLevel-sized hash table (C zlib: ~5 KiB at 9 bits/memLevel 1), i.e. a
//!   C dependency or a change to zlib-rs. What can be done here is done:
//!   state is created lazily (a connection that only receives holds 46 KiB;
//!   one that never sends a message above the threshold holds no
//!   compressor), `mem_level` trims 110 KiB, and `server_no_context_takeover`
//!   gets a server to ~48 KiB per connection with a shared compressor pool.
