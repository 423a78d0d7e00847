//! The sans-I/O RFC 6455 engine: no sockets, no runtime, no clock of its
//! own. Bytes in, messages and bytes out.
//!
//! "Sans-I/O" (as in `quinn-proto`) means that nothing in this module reads
//! or writes a socket, spawns a task, sleeps or depends on an async
//! runtime: it is handed the bytes that arrived and gives back the bytes to
//! write and what happened. It depends on nothing above it in the crate
//! (only on [`crate::config`] and [`crate::error`], which are plain data).
//! Everything a connection decides is decided here:
//!
//! - [`handshake`]: one opening-handshake state machine per role,
//!   [`ClientHandshake`](handshake::client::ClientHandshake) and
//!   [`ServerHandshake`](handshake::server::ServerHandshake), ending in an
//!   [`Established`](handshake::Established) handshake;
//! - [`recv`] and [`send`]: frames and messages through the negotiated
//!   extensions, [`outbuf`] the queue of encoded bytes;
//! - the connection state (crate-private): the closing handshake, the
//!   wind-down after a failure, the keepalive decisions.
//!
//! The adapters only move bytes and keep time, each with its own I/O loop
//! (write the request, read, feed, until the machine is done; then read,
//! decode, write the queue out): the tokio adapter
//! ([`crate::WebSocketStream`], [`crate::accept`], [`crate::connect`]), the
//! blocking adapter ([`crate::blocking`]) and the mux driver
//! ([`crate::mux`], which runs the same handshake machines, negotiating
//! `Sec-WebSocket-Extensions` itself through their hooks).
//!
//! # Driving a connection by hand
//!
//! A client and a server over two in-memory buffers, no socket, no runtime:
//! the opening handshake, then one message each way.
//!
//! ```
//! use bytes::BytesMut;
//! use wsx::proto::handshake::client::{ClientHandshake, Target};
//! use wsx::proto::handshake::server::ServerHandshake;
//! use wsx::proto::outbuf::OutBuf;
//! use wsx::proto::recv::Read;
//! use wsx::{ClientConfig, Message, ServerConfig, WebSocketConfig};
//!
//! // What each side has written and the other has not read yet.
//! let mut to_server: Vec<u8> = Vec::new();
//! let mut to_client: Vec<u8> = Vec::new();
//!
//! // The client writes its request.
//! let client_config = ClientConfig::default().with_subprotocols(vec!["chat".into()]);
//! let target = Target::parse("ws://localhost/chat")?;
//! let mut client = ClientHandshake::new(&target, &client_config);
//! to_server.extend_from_slice(client.request());
//!
//! // The server reads it (here in two pieces) and answers 101.
//! let server_config = ServerConfig::default().with_subprotocols(vec!["chat".into()]);
//! let mut server = ServerHandshake::new(server_config.max_header_bytes);
//! let (first, rest) = to_server.split_at(7);
//! assert!(server.feed(first)?.is_none()); // needs more
//! let (request, leftover) = server.feed(rest)?.expect("a complete request");
//! to_server.clear();
//! let (answer, server_done) = ServerHandshake::accept(&request, leftover, &server_config)
//!     .map_err(|rejection| rejection.error)?;
//! to_client.extend_from_slice(&answer);
//!
//! // The client reads the 101.
//! let client_done = client.feed(&to_client)?.expect("a complete response");
//! to_client.clear();
//! assert_eq!(client_done.protocol.as_deref(), Some("chat"));
//! assert_eq!(server_done.protocol.as_deref(), Some("chat"));
//!
//! // Both ends are open: encode, move the bytes, decode.
//! let limits = WebSocketConfig::default();
//! let (mut client_tx, mut client_rx, mut client_in) = client_done.into_engine(&limits);
//! let (mut server_tx, mut server_rx, mut server_in) = server_done.into_engine(&limits);
//! fn drain(out: &mut OutBuf, wire: &mut Vec<u8>) {
//!     while !out.is_empty() {
//!         let chunk = out.first_slice();
//!         let n = chunk.len();
//!         wire.extend_from_slice(chunk);
//!         out.advance(n);
//!     }
//! }
//! let mut out = OutBuf::new();
//! client_tx.encode_message(Message::text("hello"), &mut out)?;
//! drain(&mut out, &mut to_server);
//! server_in.extend_from_slice(&to_server);
//! match server_rx.read(&mut server_in)? {
//!     Read::Message(m) => assert_eq!(m, Message::text("hello")),
//!     Read::NeedMore(_) => unreachable!("the whole frame is there"),
//! }
//!
//! server_tx.encode_message(Message::binary(&b"hi"[..]), &mut out)?;
//! drain(&mut out, &mut to_client);
//! client_in.extend_from_slice(&to_client);
//! match client_rx.read(&mut client_in)? {
//!     Read::Message(m) => assert_eq!(m, Message::binary(&b"hi"[..])),
//!     Read::NeedMore(_) => unreachable!("the whole frame is there"),
//! }
//! assert!(client_in.is_empty() && server_in.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod close;
pub(crate) mod cohort;
pub(crate) mod connection;
pub mod frame;
pub mod handshake;
pub mod mask;
pub mod outbuf;
pub mod prepared;
pub(crate) mod readbuf;
pub mod recv;
pub mod send;
pub mod utf8;

/// Which end of the connection we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// We accepted the connection: incoming frames must be masked.
    Server,
    /// We opened the connection: we mask, incoming frames must not be masked.
    Client,
}

/// The browser API's `readyState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReadyState {
    /// The opening handshake is in progress (never observed on a
    /// connection, which exists only once the handshake is done).
    Connecting,
    /// Messages flow both ways.
    Open,
    /// A close frame was sent or received, or the connection is failing.
    Closing,
    /// The connection is closed.
    Closed,
}
