//! # wsx
//!
//! An RFC 6455 WebSocket engine with pluggable extensions
//! ([`ws_ext_core`]: permessage-deflate, multiplexing, your own), a tokio
//! adapter that keeps `tungstenite::Message` and the `Stream`/`Sink` API,
//! and the `wsx` command (reference server and client).
//!
//! - [`proto`]: the sans-I/O engine (handshake, frames, messages).
//! - [`accept`], [`accept_with`], [`connect`], [`connect_with`],
//!   [`WebSocketStream::from_upgraded`]: the tokio entry points.
//! - [`broadcast`]: one message to many connections, compressed once
//!   ([`PreparedMessage`]), with a bounded queue per recipient
//!   ([`Broadcast`]).
//! - `axum` (feature `axum`): axum 0.8's `extract::ws` API with
//!   permessage-deflate, changed by one `use` line; `hyper` (feature
//!   `hyper`): `is_upgrade_request` and `upgrade` for hyper 1 servers.

#![deny(missing_docs)]
// One unsafe call (a UTF-8 conversion the validator has proven), allowed
// where it stands.
#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod config;
pub mod error;
pub mod proto;

pub use config::{ClientConfig, RequestCallback, RequestDecision, ServerConfig, WebSocketConfig};
pub use error::{Error, HandshakeError, ProtocolError, Result};
pub use http::StatusCode;
pub use proto::{ReadyState, Role};
pub use tungstenite::protocol::frame::coding::CloseCode;
pub use tungstenite::protocol::CloseFrame;
pub use tungstenite::{Message, Utf8Bytes};
/// permessage-deflate (RFC 7692) and deflate-frame: the policy types
/// ([`DeflateConfig`] and its presets) and the extension factories.
pub use ws_deflate as deflate;
pub use ws_deflate::DeflateConfig;
/// The extension pipeline: negotiators, the `Extension` traits, frames, for
/// writing your own extension or combining several.
pub use ws_ext_core as ext;

mod accept;
mod connect;
mod event;
pub mod stream;

pub use accept::{accept, accept_request, accept_with, negotiate_upgrade, read_request, reject};
#[cfg(feature = "tls")]
pub use connect::connect_tls_with;
pub use connect::{client_handshake, connect, connect_with};
pub use event::{Event, Events};
pub use proto::handshake::client::Target;
pub use stream::WebSocketStream;

pub mod blocking;
pub mod broadcast;
pub use broadcast::{Broadcast, PreparedMessage};
mod maybe_tls;
pub mod mux;
#[cfg(feature = "tls")]
pub mod tls;
pub use maybe_tls::MaybeTlsStream;
#[cfg(feature = "tls")]
pub use tls::TlsConnector;
#[cfg(feature = "axum")]
pub mod axum;
#[cfg(feature = "hyper")]
pub mod hyper;
