//! # tokio-tungstenite's API on wsx, with permessage-deflate
//!
//! This crate (package `wsx-tokio-tungstenite`, library
//! `tokio_tungstenite`) mirrors the API of
//! [tokio-tungstenite](https://docs.rs/tokio-tungstenite/0.30.0) 0.30 with
//! its default `connect` feature, and runs the protocol on wsx, which
//! negotiates permessage-deflate (RFC 7692). A program written for
//! tokio-tungstenite switches by renaming the dependency, without a change
//! to its code:
//!
//! ```toml
//! [dependencies]
//! tokio-tungstenite = { package = "wsx-tokio-tungstenite", version = "0.1" }
//! ```
//!
//! `use tokio_tungstenite::...` keeps working because the library itself
//! is named `tokio_tungstenite` (so the rename is not even required, but
//! it keeps the dependency's key, and any `tokio-tungstenite/feature`
//! reference, as it was). The messages, requests, responses, callback
//! and error types are tungstenite's own: [`tungstenite`] is re-exported.
//!
//! Servers accept permessage-deflate when the client offers it (browsers,
//! Node `ws` and Python `websockets` do) and clients offer it, at wsx's
//! default policy ([`deflate::DeflateConfig::default()`]); [`deflate::set`]
//! changes or disables it.
//!
//! Differences from tokio-tungstenite: see the crate's README
//! (`integration/tokio-tungstenite/README.md`).

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub use tungstenite;

mod connect;
pub mod deflate;
mod error;
mod handshake;
mod stream;

use tokio::io::{AsyncRead, AsyncWrite};
use tungstenite::client::IntoClientRequest;
use tungstenite::error::Error as WsError;
use tungstenite::handshake::client::Response;
use tungstenite::handshake::server::{Callback, NoCallback};
use tungstenite::protocol::WebSocketConfig;

pub use connect::{
    client_async_tls, client_async_tls_with_config, connect_async, connect_async_tls_with_config,
    connect_async_with_config, Connector,
};
pub use stream::WebSocketStream;
/// A connection that is plain TCP or TLS, as [`connect_async`] returns.
/// Its TLS variant is rustls (client or server side); both it and
/// tokio-tungstenite's type are `#[non_exhaustive]`, so code matching
/// `MaybeTlsStream::Plain(s)` and `_` works with either.
pub use wsx::MaybeTlsStream;

/// Run the client handshake over a connected `stream` (TCP, TLS, ...)
/// for `request` (a URL string, or a [`tungstenite::http::Request`] with
/// extra headers, via [`IntoClientRequest`]), offering permessage-deflate.
// tokio-tungstenite's signature, unused lifetime included.
#[allow(clippy::extra_unused_lifetimes)]
pub async fn client_async<'a, R, S>(
    request: R,
    stream: S,
) -> Result<(WebSocketStream<S>, Response), WsError>
where
    R: IntoClientRequest + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
{
    client_async_with_config(request, stream, None).await
}

/// [`client_async`] with a configuration (limits: `max_message_size`,
/// `max_frame_size`, `write_buffer_size`).
// tokio-tungstenite's signature, unused lifetime included.
#[allow(clippy::extra_unused_lifetimes)]
pub async fn client_async_with_config<'a, R, S>(
    request: R,
    stream: S,
    config: Option<WebSocketConfig>,
) -> Result<(WebSocketStream<S>, Response), WsError>
where
    R: IntoClientRequest + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
{
    handshake::client(request, stream, config).await
}

/// Accept a WebSocket connection on `stream` (typically just accepted
/// from a `TcpListener`), negotiating permessage-deflate if the client
/// offers it.
pub async fn accept_async<S>(stream: S) -> Result<WebSocketStream<S>, WsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accept_hdr_async(stream, NoCallback).await
}

/// [`accept_async`] with a configuration.
pub async fn accept_async_with_config<S>(
    stream: S,
    config: Option<WebSocketConfig>,
) -> Result<WebSocketStream<S>, WsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accept_hdr_async_with_config(stream, NoCallback, config).await
}

/// [`accept_async`] with a callback that sees the request and the 101
/// response about to be sent: it may add headers (or choose a subprotocol
/// with `Sec-WebSocket-Protocol`), or refuse with an
/// [`ErrorResponse`](tungstenite::handshake::server::ErrorResponse), whose
/// status and body are sent to the client; the call then fails with
/// [`tungstenite::Error::Http`].
pub async fn accept_hdr_async<S, C>(stream: S, callback: C) -> Result<WebSocketStream<S>, WsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: Callback + Unpin,
{
    accept_hdr_async_with_config(stream, callback, None).await
}

/// [`accept_hdr_async`] with a configuration.
pub async fn accept_hdr_async_with_config<S, C>(
    stream: S,
    callback: C,
    config: Option<WebSocketConfig>,
) -> Result<WebSocketStream<S>, WsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: Callback + Unpin,
{
    handshake::server(stream, callback, config).await
}
