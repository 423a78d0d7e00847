//! # wsx
//!
//! An RFC 6455 WebSocket engine with pluggable extensions
//! ([`ext`]: permessage-deflate, multiplexing, your own), a tokio
//! adapter that keeps `tungstenite::Message` and the `Stream`/`Sink` API,
//! a blocking adapter, and drop-ins for tokio-tungstenite, axum and hyper.
//! [`ServerConfig::default()`] and [`ClientConfig::default()`] negotiate
//! permessage-deflate (RFC 7692) at [`DeflateConfig::default()`]; a peer
//! that offers nothing gets an uncompressed connection.
//!
//! ## Start here
//!
//! | you have | you change | see |
//! |---|---|---|
//! | a tokio-tungstenite program | one line of `Cargo.toml` | [below](#tokio-tungstenite-by-a-dependency-rename) |
//! | an axum 0.8 app | one `use` line | [`wsx::axum`](#axum-one-use-line) (feature `axum`) |
//! | a hyper 1 server | a route | [`wsx::hyper`](#hyper-1) (feature `hyper`) |
//! | a new tokio server or client | — | [`accept`], [`connect`], [`WebSocketStream`] |
//! | blocking code (`std::net`) | — | [`blocking`] |
//! | one message to many connections | — | [`broadcast`], [`PreparedMessage`] |
//! | an extension of your own | — | [`ext`], [below](#an-extension-of-your-own) |
//! | a compression policy | one call | [`DeflateConfig`] presets, [`ServerConfig::with_deflate`] |
//!
//! ### A server and a client (tokio)
//!
//! ```
//! use futures_util::{SinkExt, StreamExt};
//! use wsx::Message;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let url = format!("ws://{}/", listener.local_addr()?);
//! tokio::spawn(async move {
//!     let (tcp, _) = listener.accept().await?;
//!     let mut ws = wsx::accept(tcp).await?; // permessage-deflate by default
//!     while let Some(msg) = ws.next().await {
//!         let msg = msg?;
//!         if msg.is_text() || msg.is_binary() {
//!             ws.send(msg).await?;
//!         }
//!     }
//!     Ok::<_, wsx::Error>(())
//! });
//! let (mut ws, _response) = wsx::connect(&url).await?;
//! assert!(ws.extensions().is_some_and(|e| e.starts_with("permessage-deflate")));
//! ws.send(Message::text("hello")).await?;
//! assert_eq!(ws.next().await.transpose()?, Some(Message::text("hello")));
//! ws.close().await?;
//! # Ok(()) }
//! ```
//!
//! Another policy is one call: `ServerConfig::default().with_deflate(Some(DeflateConfig::smallest()))?`
//! with [`accept_with`]; none at all is
//! [`ServerConfig::without_extensions`].
//!
//! ### tokio-tungstenite, by a dependency rename
//!
//! The crate `wsx-tokio-tungstenite` (in this workspace) has
//! tokio-tungstenite 0.30's API on this engine, permessage-deflate
//! included. A program compiles unchanged with:
//!
//! ```toml
//! [dependencies]
//! tokio-tungstenite = { package = "wsx-tokio-tungstenite", version = "0.1" }
//! ```
//!
//! Its crate docs have the details and the policy setting
//! (`tokio_tungstenite::deflate::set`). Moving to `wsx` itself instead is
//! `accept_async` → [`accept`] and `tungstenite::Message` → [`Message`]
//! (the same type).
//!
//! ### axum: one `use` line
//!
//! With feature `axum`, `wsx::axum` is `axum::extract::ws` on
//! this engine: change the `use` line, nothing else.
//!
//! ```
//! # #[cfg(feature = "axum")]
//! # mod app {
//! use axum::{response::Response, routing::any, Router};
//! // Was: use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
//! use wsx::axum::{Message, WebSocket, WebSocketUpgrade};
//!
//! async fn handler(ws: WebSocketUpgrade) -> Response {
//!     ws.on_upgrade(handle_socket)
//! }
//!
//! async fn handle_socket(mut socket: WebSocket) {
//!     while let Some(Ok(msg)) = socket.recv().await {
//!         if let Message::Text(_) | Message::Binary(_) = msg {
//!             if socket.send(msg).await.is_err() {
//!                 return;
//!             }
//!         }
//!     }
//! }
//!
//! pub fn app() -> Router {
//!     Router::new().route("/ws", any(handler))
//! }
//! # }
//! ```
//!
//! ### hyper 1
//!
//! With feature `hyper`: `wsx::hyper::is_upgrade_request` and
//! `hyper::upgrade(&mut req, &config)`, which returns the 101 response and
//! a future of the [`WebSocketStream`].
//!
//! ```
//! # #[cfg(feature = "hyper")]
//! # mod app {
//! use bytes::Bytes;
//! use futures_util::{SinkExt, StreamExt};
//! use http_body_util::Full;
//! use hyper::{body::Incoming, Request, Response};
//!
//! pub async fn route(
//!     mut req: Request<Incoming>,
//!     config: &wsx::ServerConfig,
//! ) -> Result<Response<Full<Bytes>>, wsx::Error> {
//!     if !wsx::hyper::is_upgrade_request(&req) {
//!         return Ok(Response::new(Full::new(Bytes::from("plain HTTP"))));
//!     }
//!     let (response, websocket) = wsx::hyper::upgrade(&mut req, config)?;
//!     tokio::spawn(async move {
//!         let Ok(mut ws) = websocket.await else { return };
//!         while let Some(Ok(msg)) = ws.next().await {
//!             if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
//!                 break;
//!             }
//!         }
//!     });
//!     Ok(response)
//! }
//! # }
//! ```
//!
//! ### Blocking
//!
//! ```
//! use std::net::TcpListener;
//! use wsx::Message;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let url = format!("ws://{}/", listener.local_addr()?);
//! let server = std::thread::spawn(move || -> Result<(), wsx::Error> {
//!     let (tcp, _) = listener.accept()?;
//!     let mut ws = wsx::blocking::accept(tcp)?;
//!     loop {
//!         match ws.read()? {
//!             msg @ (Message::Text(_) | Message::Binary(_)) => ws.send(msg)?,
//!             Message::Close(_) => return Ok(()),
//!             _ => {}
//!         }
//!     }
//! });
//! let (mut ws, _response) = wsx::blocking::connect(&url)?;
//! assert!(ws.extensions().is_some_and(|e| e.starts_with("permessage-deflate")));
//! ws.send(Message::text("hello"))?;
//! assert_eq!(ws.read()?, Message::text("hello"));
//! ws.close(None)?;
//! # drop(ws);
//! # let _ = server.join();
//! # Ok(()) }
//! ```
//!
//! ### An extension of your own
//!
//! An extension implements [`ext::Extension`] (its name, RSV bits and
//! response), splits into an [`ext::Encoder`] and an [`ext::Decoder`], and
//! is negotiated by a server and a client factory. Register the factories
//! beside or instead of permessage-deflate. Here an extension that only
//! counts messages, negotiated over loopback (`ws-ext-core`'s
//! `examples/xor.rs` is one that transforms payloads, with an RSV bit and a
//! parameter):
//!
//! ```
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::sync::Arc;
//! use futures_util::{SinkExt, StreamExt};
//! use wsx::ext::{
//!     ClientExtensionFactory, ClientNegotiator, Decoder, Encoder, Extension,
//!     ExtensionElement, ExtensionError, Frame, NegotiationError, RsvBits,
//!     ServerContext, ServerExtensionFactory, ServerNegotiator,
//! };
//! use wsx::{ClientConfig, DeflateConfig, Message, ServerConfig};
//!
//! /// `x-count`: no RSV bit, payloads unchanged; counts the frames sent.
//! struct Count(Arc<AtomicUsize>);
//! impl Extension for Count {
//!     fn name(&self) -> &str { "x-count" }
//!     fn rsv_bits(&self) -> RsvBits { RsvBits::NONE }
//!     fn response(&self) -> ExtensionElement { ExtensionElement::new("x-count") }
//!     fn split(self: Box<Self>) -> (Box<dyn Encoder>, Box<dyn Decoder>) {
//!         (Box::new(CountFrames(self.0)), Box::new(Identity))
//!     }
//! }
//! struct CountFrames(Arc<AtomicUsize>);
//! impl Encoder for CountFrames {
//!     fn encode(&mut self, frame: Frame) -> Result<Frame, ExtensionError> {
//!         self.0.fetch_add(1, Ordering::Relaxed);
//!         Ok(frame)
//!     }
//! }
//! struct Identity;
//! impl Decoder for Identity {
//!     fn decode(&mut self, frame: Frame, _budget: usize) -> Result<Frame, ExtensionError> {
//!         Ok(frame)
//!     }
//! }
//! /// Both factories: the server accepts `x-count`, the client offers it.
//! #[derive(Clone)]
//! struct CountFactory(Arc<AtomicUsize>);
//! impl ServerExtensionFactory for CountFactory {
//!     fn handles(&self, name: &str) -> bool { name.eq_ignore_ascii_case("x-count") }
//!     fn accept(
//!         &self,
//!         _offer: &ExtensionElement,
//!         _ctx: &ServerContext<'_>,
//!     ) -> Result<Option<Box<dyn Extension>>, NegotiationError> {
//!         Ok(Some(Box::new(Count(self.0.clone()))))
//!     }
//! }
//! impl ClientExtensionFactory for CountFactory {
//!     fn handles(&self, name: &str) -> bool { name.eq_ignore_ascii_case("x-count") }
//!     fn offers(&self) -> Vec<ExtensionElement> { vec![ExtensionElement::new("x-count")] }
//!     fn accept(&self, _response: &ExtensionElement) -> Result<Box<dyn Extension>, NegotiationError> {
//!         Ok(Box::new(Count(self.0.clone())))
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (on_server, on_client) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
//! // permessage-deflate and x-count, in that order.
//! let pmd = wsx::deflate::PerMessageDeflateServer::try_new(DeflateConfig::default())?;
//! let server = ServerConfig::default().with_extensions(
//!     ServerNegotiator::new().with(pmd).with(CountFactory(on_server.clone())),
//! );
//! let client = ClientConfig::default()
//!     .with_extensions(ClientNegotiator::new().with(CountFactory(on_client.clone())));
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let url = format!("ws://{}/", listener.local_addr()?);
//! tokio::spawn(async move {
//!     let (tcp, _) = listener.accept().await?;
//!     let mut ws = wsx::accept_with(tcp, &server).await?;
//!     while let Some(msg) = ws.next().await {
//!         let msg = msg?;
//!         if msg.is_text() {
//!             ws.send(msg).await?;
//!         }
//!     }
//!     Ok::<_, wsx::Error>(())
//! });
//! let (mut ws, _) = wsx::connect_with(&url, &client).await?;
//! assert_eq!(ws.extensions(), Some("x-count"));
//! ws.send(Message::text("one")).await?;
//! assert_eq!(ws.next().await.transpose()?, Some(Message::text("one")));
//! assert_eq!(on_client.load(Ordering::Relaxed), 1);
//! assert_eq!(on_server.load(Ordering::Relaxed), 1);
//! # Ok(()) }
//! ```
//!
//! ## Layers
//!
//! - [`proto`]: the sans-I/O engine (handshake, frames, messages).
//! - [`accept`], [`accept_with`], [`connect`], [`connect_with`],
//!   [`WebSocketStream::from_upgraded`]: the tokio entry points.
//! - [`blocking`]: the same engine over `std::io::Read + Write`.
//! - [`broadcast`]: one message to many connections, compressed once
//!   ([`PreparedMessage`]), with a bounded queue per recipient
//!   ([`Broadcast`]).
//! - [`mux`]: the WebSocket multiplexing extension's channels.
//! - `axum` (feature `axum`) and `hyper` (feature `hyper`): see above.

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
