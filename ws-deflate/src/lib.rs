//! # ws-deflate
//!
//! permessage-deflate (RFC 7692) for WebSocket, sans-I/O, as a
//! [`ws_ext_core`] extension: no sockets, no async runtime, no threads.
//! Frames in, frames out.
//!
//! - [`PerMessageDeflateServer`] / [`PerMessageDeflateClient`]: negotiation
//!   in both roles, every rule of RFC 7692 §7.1 ([`negotiate`] holds the
//!   decision tables as pure functions).
//! - [`PmdEncoder`] / [`PmdDecoder`]: the streaming codec, frame by frame.
//! - [`DeflateConfig`]: the policy (level, window limits, context takeover,
//!   threshold, memLevel, fallback offers, pool size).
//! - [`DeflateFrameServer`] / [`DeflateFrameClient`]: the legacy per-frame
//!   `deflate-frame` / `x-webkit-deflate-frame` for old WebKit clients.
//!
//! ```
//! use ws_deflate::{DeflateConfig, PerMessageDeflateClient, PerMessageDeflateServer};
//! use ws_ext_core::{ClientNegotiator, Frame, OpCode, ServerNegotiator};
//!
//! let client = ClientNegotiator::new().with(PerMessageDeflateClient::new(DeflateConfig::default()));
//! let server = ServerNegotiator::new().with(PerMessageDeflateServer::new(DeflateConfig::default()));
//! let offer = client.offer_header().unwrap();
//! let server_stack = server.negotiate([offer.as_bytes()]).unwrap();
//! let response = server_stack.response_header().unwrap();
//! let client_stack = client.finish([response.as_bytes()]).unwrap();
//!
//! let (mut tx, _) = client_stack.split();
//! let (_, mut rx) = server_stack.split();
//! let wire = tx.encode(Frame::new(true, OpCode::Text, "Hello Hello Hello Hello")).unwrap();
//! assert!(wire.rsv.bits() != 0 && wire.payload.len() < 23);
//! let back = rx.decode(wire, 1 << 20).unwrap();
//! assert_eq!(&back.payload[..], b"Hello Hello Hello Hello");
//! ```
//!
//! ## Errors and close codes
//! RSV1 on a control or continuation frame: [`ExtensionError::Protocol`]
//! (1002). Corrupt DEFLATE data: [`ExtensionError::InvalidData`] (1007).
//! Output beyond the message budget: [`ExtensionError::MessageTooBig`]
//! (1009), raised as soon as the inflater would write one byte past the
//! budget. A compressor fault: [`ExtensionError::Internal`] (1011).
//!
//! ## Compressors and backends
//! Two compressors, chosen per configuration
//! ([`DeflateConfig::compressor`], `wsx serve --compressor`):
//! - [`backend::Compressor::Native`] (the default): this crate's own,
//!   written for WebSocket traffic — many small sync-flushed messages whose
//!   matches are mostly in the stream's history. Small hash chains over
//!   5-byte strings (16-bit positions: 32 KiB of heads, 64 KiB of links),
//!   lazy matching (2 candidates per position at level 1), each match
//!   extended backwards over the symbols before it that its source also
//!   holds, and per message the smallest of a dynamic-Huffman,
//!   fixed-Huffman or stored block. On the chat JSON of the side-by-side
//!   load its level 1 sends 203 B per 658 B message, fewer than zlib's
//!   level 6 (204 B), where zlib's level 1 (which writes only fixed codes)
//!   sends 266 B, with less than half the busy state (`benches/RESULTS.md`).
//!   Safe Rust; the output is plain raw DEFLATE.
//! - [`backend::Compressor::Zlib`]: the zlib-family backend below; levels
//!   mean what they mean to zlib.
//!
//! Decompression is always the backend's.
//!
//! Feature `zlib-rs` (default): pure-Rust zlib, window bits 9..=15 honoured,
//! memLevel settable. Feature `miniz` (with default features off):
//! miniz_oxide, whose compressor always uses a 15-bit window. A server then
//! declines offers with `server_max_window_bits` < 15 (the next offer is
//! tried), and where a smaller window is agreed anyway (a client given
//! `client_max_window_bits` < 15, a server configured with
//! `server_max_window_bits` < 15) messages are sent uncompressed, which is
//! always legal. Decompression always uses a 15-bit window, which accepts
//! any peer. One difference to know: miniz_oxide's inflater reads a match
//! distance that reaches before the start of the stream as zeros instead of
//! failing, so a peer that lost context sync yields wrong bytes (still
//! bounded by the budget, still UTF-8-checked by the engine) rather than a
//! 1007 close; zlib-rs fails with 1007.
//!
//! **Window bits 8.** Offers and responses with 8 are valid. Raw DEFLATE
//! with an 8-bit window is refused by zlib ≥ 1.2.9 and zlib-rs, so our
//! compressor uses 9 bits where 8 was agreed; zlib-rs, like the native
//! compressor, never emits a distance above 250 with 9 bits, which a
//! 256-byte window decodes (`tests/window8.rs` checks this with an 8-bit
//! inflater).
//!
//! ## Memory
//! State is created on first use. Where a direction resets per message
//! (`*_no_context_takeover`), its state goes back to the factory's
//! [`DeflatePool`] at the end of each message, so an idle connection holds
//! none. See the measured figures in [`memory`].
//!
//! [`ExtensionError::Protocol`]: ws_ext_core::ExtensionError::Protocol
//! [`ExtensionError::InvalidData`]: ws_ext_core::ExtensionError::InvalidData
//! [`ExtensionError::MessageTooBig`]: ws_ext_core::ExtensionError::MessageTooBig
//! [`ExtensionError::Internal`]: ws_ext_core::ExtensionError::Internal

#![deny(missing_docs)]
// Unsafe code lives only in `backend` (the zlib FFI and two `set_len`s),
// each block with the SAFETY argument clippy checks for.
#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod archive;
#[allow(unsafe_code)]
pub mod backend;
mod codec;
pub mod config;
pub mod deflate_frame;
pub mod memory;
pub mod negotiate;
pub mod params;
mod permessage;
mod pool;
mod state;

pub use codec::{PmdDecoder, PmdEncoder};
pub use config::{ConfigError, DeflateConfig};
pub use deflate_frame::{
    DeflateFrame, DeflateFrameClient, DeflateFrameDecoder, DeflateFrameEncoder, DeflateFrameServer,
};
pub use negotiate::{Agreement, DeclineReason, ResponseError};
pub use params::{
    ClientMaxWindowBits, OfferParams, ParamError, ResponseParams, PERMESSAGE_DEFLATE,
};
pub use permessage::{PerMessageDeflate, PerMessageDeflateClient, PerMessageDeflateServer, Role};
pub use pool::DeflatePool;
