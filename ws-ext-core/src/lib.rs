//! # ws-ext-core
//!
//! The sans-I/O plug-in API for WebSocket extensions: no sockets, no async
//! runtime — header values and frames in, header values and frames out. Any
//! RFC 6455 implementation can host it; the `wsx` crate does.
//!
//! - [`header`]: the `Sec-WebSocket-Extensions` grammar (RFC 6455 §9.1).
//! - [`ServerNegotiator`] / [`ClientNegotiator`]: negotiation in both roles.
//! - [`Extension`], [`Encoder`], [`Decoder`] and the two factory traits: what
//!   an extension implements.
//! - [`ExtensionStack`]: the negotiated extensions in response order, split
//!   into a [`SendStack`] and a [`RecvStack`] with separate state.
//! - [`EncodingKey`]: when a send stack's output for a message depends on
//!   nothing but the message ([`Encoder::shared_key`]), a broadcaster
//!   encodes the message once per key ([`SendStack::encode_detached`]) and
//!   writes the same bytes to every connection with that key. When it
//!   depends on the messages sent before (a compressor with context
//!   takeover), [`Encoder::cohort_key`] says which connections one such
//!   encoder ([`SendStack::fresh`]) can serve together, as long as each of
//!   them writes all of its output in order (a *cohort*), and
//!   [`SendStack::reset`] makes a connection's own encoder valid again
//!   after it wrote another's frames.
//!
//! ## Processing order
//! A response `foo, bar` means `bar(foo(data))` on send; the receiver undoes
//! `bar` first, then `foo`. The receive half rejects any frame that carries an
//! RSV bit no active extension defines (close code 1002), and passes every
//! decoder the remaining message budget so an expanding extension stops at
//! the limit.
//!
//! ## Writing an extension
//! `examples/xor.rs` is a complete third-party extension (`x-xor`, RSV2, a
//! `key` parameter); `tests/xor_end_to_end.rs` negotiates it in both roles
//! and runs fragmented messages through the stacks.
//!
//! ```
//! use ws_ext_core::{ClientNegotiator, ServerNegotiator};
//! // Nothing registered: the offer is declined, no extension is active.
//! let server = ServerNegotiator::new();
//! let stack = server.negotiate([&b"permessage-deflate"[..]]).unwrap();
//! assert!(stack.is_empty());
//! assert!(ClientNegotiator::new().offer_header().is_none());
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod error;
pub mod extension;
pub mod frame;
pub mod header;
pub mod negotiate;
pub mod rsv;
mod setters;
pub mod stack;

pub use error::{close_code, ExtensionError, NegotiationError};
pub use extension::{
    ClientExtensionFactory, Decoder, Encoder, EncodingKey, Extension, ServerContext,
    ServerExtensionFactory,
};
pub use frame::{Frame, OpCode};
pub use header::{ExtensionElement, ExtensionParam, HeaderError, HeaderFault};
pub use negotiate::{ClientNegotiator, ServerNegotiator};
pub use rsv::RsvBits;
pub use stack::{ExtensionStack, RecvStack, SendStack};
