//! The opening handshake (RFC 6455 §4), sans-I/O: bytes in, bytes and
//! decisions out.
//!
//! One state machine per role, which every adapter (tokio, blocking, mux)
//! drives with its own I/O loop:
//!
//! - [`client::ClientHandshake`]: gives the request bytes to write, is fed
//!   the bytes read until the 101 is complete and valid, then gives an
//!   [`Established`] (the 101, the negotiated extensions and subprotocol,
//!   the bytes read past the 101). The mux client stops one step earlier
//!   ([`client::ClientHandshake::poll_switching`]) to negotiate
//!   `Sec-WebSocket-Extensions` itself.
//! - [`server::ServerHandshake`]: is fed the bytes read until a complete
//!   request head (within `max_header_bytes`); then
//!   [`server::ServerHandshake::accept`] validates it, negotiates, runs the
//!   `on_request` callback and gives the 101 bytes to write and an
//!   [`Established`], or a [`server::Rejection`] with the error answer to
//!   write.

pub mod client;
pub mod server;

use bytes::BytesMut;
use http::{HeaderMap, Response};
use ws_ext_core::ExtensionStack;

use crate::config::WebSocketConfig;
use crate::proto::connection::Connection;
use crate::proto::Role;

/// A finished opening handshake, either role: what the connection starts
/// from.
#[derive(Debug)]
pub struct Established {
    /// Which end we are.
    pub role: Role,
    /// The 101 response (received by a client, sent by a server).
    pub response: Response<()>,
    /// The negotiated extensions.
    pub extensions: ExtensionStack,
    /// The negotiated subprotocol.
    pub protocol: Option<String>,
    /// Bytes read past the handshake head: the peer's first frames.
    pub leftover: BytesMut,
}

impl Established {
    /// The engine halves for a connection driven by hand: the
    /// [`Sender`](crate::proto::send::Sender) and
    /// [`Receiver`](crate::proto::recv::Receiver) over the negotiated
    /// extensions with `config`'s limits, and the leftover bytes (the start
    /// of the read buffer). The adapters keep more state (close handshake,
    /// keepalive) over the same halves.
    pub fn into_engine(
        self,
        config: &WebSocketConfig,
    ) -> (
        crate::proto::send::Sender,
        crate::proto::recv::Receiver,
        BytesMut,
    ) {
        let plain = self.extensions.is_empty();
        let (send, recv) = self.extensions.split();
        let mut receiver = crate::proto::recv::Receiver::new(
            self.role,
            recv,
            config.max_frame_size,
            config.max_message_size,
        );
        receiver.set_early_utf8(plain);
        (
            crate::proto::send::Sender::new(self.role, send),
            receiver,
            self.leftover,
        )
    }

    /// The connection state, the leftover bytes (the start of the read
    /// buffer) and the 101 response.
    pub(crate) fn into_connection(
        self,
        config: WebSocketConfig,
    ) -> (Connection, BytesMut, Response<()>) {
        let conn = Connection::new(self.role, self.extensions, self.protocol, config);
        (conn, self.leftover, self.response)
    }
}

/// Most header lines accepted in a request or response head.
pub const MAX_HEADERS: usize = 64;

/// The GUID-derived accept value for a key (re-exported from tungstenite).
pub use tungstenite::handshake::derive_accept_key;

/// Whether any comma-separated token of any `name` header equals `token`
/// (ASCII case-insensitive).
pub fn header_has_token(headers: &HeaderMap, name: &str, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.as_bytes()
            .split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

/// Every comma-separated token of every `name` header, trimmed, in order.
pub fn header_tokens(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .flat_map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .split(',')
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Copy parsed `httparse` headers into a [`HeaderMap`].
fn to_header_map(headers: &[httparse::Header<'_>]) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::with_capacity(headers.len());
    for h in headers {
        let name = http::HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| format!("invalid header name {:?}", h.name))?;
        let value = http::HeaderValue::from_bytes(h.value)
            .map_err(|_| format!("invalid value for header {:?}", h.name))?;
        map.append(name, value);
    }
    Ok(map)
}

/// Write an HTTP/1.1 response head.
pub fn write_response_head(resp: &http::Response<()>, out: &mut Vec<u8>) {
    let status = resp.status();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("Unknown").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in resp.headers() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// A complete plain HTTP response with a text body and `Connection: close`.
pub fn simple_response(
    status: http::StatusCode,
    extra: &[(&str, &str)],
    content_type: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + body.len());
    out.extend_from_slice(
        format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
            status.as_str(),
            status.canonical_reason().unwrap_or("Error"),
            content_type,
            body.len()
        )
        .as_bytes(),
    );
    for (k, v) in extra {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}
