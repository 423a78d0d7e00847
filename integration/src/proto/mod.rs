//! The sans-I/O RFC 6455 engine: no sockets, no runtime. Bytes in, messages
//! and bytes out. The tokio adapter ([`crate::WebSocketStream`]) and the
//! blocking adapter ([`crate::blocking::WebSocket`]) are thin layers over
//! it: they move bytes and keep time, and `connection` decides the rest.

pub mod close;
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
