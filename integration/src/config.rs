//! Configuration for both roles, with documented defaults.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, StatusCode};
use ws_deflate::{ConfigError, DeflateConfig, PerMessageDeflateClient, PerMessageDeflateServer};
use ws_ext_core::{ClientNegotiator, ServerNegotiator};

/// What the request callback decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestDecision {
    /// Go on with the upgrade.
    Accept,
    /// Answer with this status and body instead.
    Reject {
        /// HTTP status (4xx or 5xx).
        status: StatusCode,
        /// Body text.
        reason: String,
    },
}

impl RequestDecision {
    /// Shorthand for [`RequestDecision::Reject`].
    pub fn reject(status: StatusCode, reason: impl Into<String>) -> Self {
        RequestDecision::Reject {
            status,
            reason: reason.into(),
        }
    }
}

/// The request callback: sees the validated upgrade request and the draft
/// 101 response (add headers to it, or set `Sec-WebSocket-Protocol` to
/// choose a subprotocol), and accepts or rejects.
pub type RequestCallback =
    Arc<dyn Fn(&Request<()>, &mut http::response::Builder) -> RequestDecision + Send + Sync>;

/// Limits and buffering of an open connection (both roles).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WebSocketConfig {
    /// Largest message accepted, after extension decoding (default 64 MiB).
    /// A larger message fails the connection with 1009.
    pub max_message_size: usize,
    /// Largest single frame accepted, as sent on the wire (default 64 MiB).
    /// A larger frame fails the connection with 1009.
    pub max_frame_size: usize,
    /// Encoded bytes queued before a send waits for the socket (default
    /// 128 KiB). Small messages are batched into one write up to this size.
    pub write_buffer_size: usize,
    /// How long to wait for the peer to finish the closing handshake (its
    /// close frame, or the server closing TCP) before giving up (default 5 s).
    pub close_timeout: Duration,
    /// Keepalive (default off): after this long without a byte from the
    /// peer, send a ping; after as long again still without a byte, drop
    /// the connection (close 1001, then FIN) and yield
    /// [`crate::Error::IdleTimeout`]. Both adapters: the tokio one with a
    /// timer, the blocking one through the socket's read timeout (see
    /// [`crate::blocking`] for streams it did not open).
    pub idle_timeout: Option<Duration>,
    /// Context hibernation (default 1 s): after this long without a
    /// message either way, the tokio adapter lets the extensions release
    /// the state they can rebuild ([`ws_ext_core::Encoder::hibernate`]). A
    /// permessage-deflate connection with context takeover then keeps only
    /// its packed LZ77 windows (a few KiB) instead of a compressor and a
    /// decompressor (~150 KiB busy with the native compressor, ~420 KiB with
    /// zlib-rs), and restores them on the next
    /// message (~30 µs per direction, once per quiet spell). `None`: never. The
    /// blocking adapter does not hibernate on its own: call `hibernate()` on
    /// it yourself.
    pub hibernate_after: Option<Duration>,
}

ws_ext_core::config_setters!(WebSocketConfig {
    with_max_message_size => max_message_size: usize,
    with_max_frame_size => max_frame_size: usize,
    with_write_buffer_size => write_buffer_size: usize,
    with_close_timeout => close_timeout: Duration,
    with_idle_timeout => idle_timeout: Option<Duration>,
    with_hibernate_after => hibernate_after: Option<Duration>,
});

impl Default for WebSocketConfig {
    fn default() -> Self {
        WebSocketConfig {
            max_message_size: 64 << 20,
            max_frame_size: 64 << 20,
            write_buffer_size: 128 << 10,
            close_timeout: Duration::from_secs(5),
            idle_timeout: None,
            hibernate_after: Some(Duration::from_secs(1)),
        }
    }
}

/// Server configuration. Defaults: permessage-deflate accepted at
/// [`DeflateConfig::default()`] (a client that offers nothing gets an
/// uncompressed connection), no subprotocol, 10 s handshake timeout, 16 KiB
/// request head.
///
/// ```
/// use wsx::{DeflateConfig, ServerConfig};
/// // The default: permessage-deflate at the default policy.
/// let compressed = ServerConfig::default();
/// // Another policy, e.g. compress-once fan-out:
/// let fanout = ServerConfig::default().with_deflate(Some(DeflateConfig::broadcast()))?;
/// // No compression (nor any other extension):
/// let plain = ServerConfig::default().without_extensions();
/// # let _ = (compressed, fanout, plain);
/// # Ok::<(), wsx::deflate::ConfigError>(())
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Limits of the open connection.
    pub websocket: WebSocketConfig,
    /// The whole opening handshake must finish within this (default 10 s).
    pub handshake_timeout: Duration,
    /// Largest request head (request line and headers) accepted; larger
    /// gets 431 (default 16 KiB). At most 64 header lines are accepted.
    pub max_header_bytes: usize,
    /// Extensions accepted from clients (default: permessage-deflate at
    /// [`DeflateConfig::default()`]; see [`ServerConfig::with_deflate`],
    /// [`ServerConfig::without_extensions`]).
    pub extensions: ServerNegotiator,
    /// Subprotocols this server speaks, in preference order. The first one
    /// the client offered (in the server's order) is chosen; none matching
    /// means no `Sec-WebSocket-Protocol` in the response. See
    /// [`select_subprotocol`](crate::proto::handshake::server::select_subprotocol).
    pub subprotocols: Vec<String>,
    /// Called with each valid upgrade request before the response is sent:
    /// may reject it, choose the subprotocol, add response headers.
    pub on_request: Option<RequestCallback>,
}

ws_ext_core::config_setters!(ServerConfig {
    with_websocket => websocket: WebSocketConfig,
    with_handshake_timeout => handshake_timeout: Duration,
    with_max_header_bytes => max_header_bytes: usize,
    with_extensions => extensions: ServerNegotiator,
    with_subprotocols => subprotocols: Vec<String>,
    with_on_request => on_request: Option<RequestCallback>,
});

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            websocket: WebSocketConfig::default(),
            handshake_timeout: Duration::from_secs(10),
            max_header_bytes: 16 << 10,
            extensions: ServerNegotiator::new()
                .with(PerMessageDeflateServer::new(DeflateConfig::default())),
            subprotocols: Vec::new(),
            on_request: None,
        }
    }
}

impl ServerConfig {
    /// Negotiate permessage-deflate with this policy (`Some`) or no
    /// extension at all (`None`). Replaces [`ServerConfig::extensions`];
    /// for deflate beside other extensions, build a
    /// [`ServerNegotiator`] and use
    /// [`ServerConfig::with_extensions`]. An invalid policy is refused.
    pub fn with_deflate(mut self, config: Option<DeflateConfig>) -> Result<Self, ConfigError> {
        self.extensions = match config {
            Some(c) => ServerNegotiator::new().with(PerMessageDeflateServer::try_new(c)?),
            None => ServerNegotiator::new(),
        };
        Ok(self)
    }

    /// No extension: every connection is uncompressed.
    pub fn without_extensions(mut self) -> Self {
        self.extensions = ServerNegotiator::new();
        self
    }

    /// Set the request callback (builder style).
    ///
    /// ```
    /// use wsx::{ServerConfig, RequestDecision};
    /// let config = ServerConfig::default().on_request(|req, _resp| {
    ///     if req.uri().path() == "/private" {
    ///         RequestDecision::reject(http::StatusCode::FORBIDDEN, "forbidden")
    ///     } else {
    ///         RequestDecision::Accept
    ///     }
    /// });
    /// # let _ = config;
    /// ```
    pub fn on_request<F>(mut self, f: F) -> Self
    where
        F: Fn(&http::Request<()>, &mut http::response::Builder) -> RequestDecision
            + Send
            + Sync
            + 'static,
    {
        self.on_request = Some(Arc::new(f));
        self
    }
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("websocket", &self.websocket)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("max_header_bytes", &self.max_header_bytes)
            .field("extensions", &self.extensions)
            .field("subprotocols", &self.subprotocols)
            .field("on_request", &self.on_request.is_some())
            .finish()
    }
}

/// Client configuration. Defaults: permessage-deflate offered at
/// [`DeflateConfig::default()`] (used if the server accepts it), no
/// subprotocol, 10 s handshake timeout, 16 KiB response head.
///
/// ```
/// use wsx::{ClientConfig, DeflateConfig};
/// let compressed = ClientConfig::default();
/// let small = ClientConfig::default().with_deflate(Some(DeflateConfig::smallest()))?;
/// let plain = ClientConfig::default().without_extensions();
/// # let _ = (compressed, small, plain);
/// # Ok::<(), wsx::deflate::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Limits of the open connection.
    pub websocket: WebSocketConfig,
    /// Connect plus the whole opening handshake must finish within this
    /// (default 10 s).
    pub handshake_timeout: Duration,
    /// Largest response head accepted (default 16 KiB).
    pub max_header_bytes: usize,
    /// Extensions offered (default: permessage-deflate at
    /// [`DeflateConfig::default()`]; see [`ClientConfig::with_deflate`],
    /// [`ClientConfig::without_extensions`]).
    pub extensions: ClientNegotiator,
    /// Subprotocols offered, in preference order (default none).
    pub subprotocols: Vec<String>,
    /// Extra request headers (for example `Origin` or `Authorization`).
    pub extra_headers: http::HeaderMap,
}

ws_ext_core::config_setters!(ClientConfig {
    with_websocket => websocket: WebSocketConfig,
    with_handshake_timeout => handshake_timeout: Duration,
    with_max_header_bytes => max_header_bytes: usize,
    with_extensions => extensions: ClientNegotiator,
    with_subprotocols => subprotocols: Vec<String>,
    with_extra_headers => extra_headers: http::HeaderMap,
});

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            websocket: WebSocketConfig::default(),
            handshake_timeout: Duration::from_secs(10),
            max_header_bytes: 16 << 10,
            extensions: ClientNegotiator::new()
                .with(PerMessageDeflateClient::new(DeflateConfig::default())),
            subprotocols: Vec::new(),
            extra_headers: http::HeaderMap::new(),
        }
    }
}

impl ClientConfig {
    /// Offer permessage-deflate with this policy (`Some`) or no extension
    /// at all (`None`). Replaces [`ClientConfig::extensions`]. An invalid
    /// policy is refused.
    pub fn with_deflate(mut self, config: Option<DeflateConfig>) -> Result<Self, ConfigError> {
        self.extensions = match config {
            Some(c) => ClientNegotiator::new().with(PerMessageDeflateClient::try_new(c)?),
            None => ClientNegotiator::new(),
        };
        Ok(self)
    }

    /// Offer no extension: the connection is uncompressed.
    pub fn without_extensions(mut self) -> Self {
        self.extensions = ClientNegotiator::new();
        self
    }
}
