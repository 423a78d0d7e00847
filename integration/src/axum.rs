//! axum 0.8 integration: a drop-in for `axum::extract::ws`, with
//! permessage-deflate.
//!
//! Change `use axum::extract::ws::{…}` to `use wsx::axum::{…}`; nothing else.
//! [`WebSocketUpgrade`] is the same extractor (same methods, same
//! rejections with the same statuses and bodies), [`WebSocket`] the same
//! socket (`recv`, `send`, `protocol`, `Stream` + `Sink`, so `split`), and
//! [`Message`], [`CloseFrame`], [`CloseCode`], [`Utf8Bytes`] and
//! [`close_code`] are axum's own, re-exported, so code elsewhere in the app
//! that takes or returns `axum::extract::ws::Message` keeps working. What
//! differs: the connection is wsx's, and permessage-deflate is negotiated
//! by default (see [`WebSocketUpgrade::deflate`]).
//!
//! ```no_run
//! use axum::{response::Response, routing::any, Router};
//! use wsx::axum::{Message, WebSocket, WebSocketUpgrade};
//!
//! async fn handler(ws: WebSocketUpgrade) -> Response {
//!     ws.protocols(["chat"]).on_upgrade(handle)
//! }
//!
//! async fn handle(mut socket: WebSocket) {
//!     while let Some(Ok(msg)) = socket.recv().await {
//!         if let Message::Text(_) | Message::Binary(_) = msg {
//!             if socket.send(msg).await.is_err() {
//!                 return;
//!             }
//!         }
//!     }
//! }
//!
//! let app: Router = Router::new().route("/ws", any(handler));
//! # let _ = app;
//! ```
//!
//! ## The message types
//! They are axum's (its `ws` feature, which this feature turns on). axum
//! wraps tungstenite 0.29's types; wsx speaks tungstenite 0.30's, so each
//! text message crosses with a UTF-8 check of its payload (no copy).
//!
//! ## Settings
//! `max_message_size`, `max_frame_size` and `write_buffer_size` map to
//! [`WebSocketConfig`]; `read_buffer_size`, `max_write_buffer_size` and
//! `accept_unmasked_frames` are accepted for source compatibility and have
//! no effect (wsx sizes its read buffer to what arrives, bounds its write
//! queue by `write_buffer_size`, and always requires masked client frames,
//! as RFC 6455 does). [`WebSocketUpgrade::websocket_config`] and
//! [`WebSocketUpgrade::extensions`] give full control.
//!
//! HTTP/2 WebSockets (RFC 8441, extended CONNECT) are not supported: such
//! a request is rejected with [`rejection::MethodNotGet`] (405), so there
//! is no `MethodNotConnect` or `InvalidProtocolPseudoheader` rejection.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_core::stream::FusedStream;
use futures_core::Stream;
use futures_sink::Sink;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Method, StatusCode, Version};
use hyper_util::rt::TokioIo;
use ws_deflate::{DeflateConfig, PerMessageDeflateServer};
use ws_ext_core::ServerNegotiator;

use crate::config::{ServerConfig, WebSocketConfig};
use crate::stream::WebSocketStream;

use self::rejection::*;

pub use axum::extract::ws::{close_code, CloseCode, CloseFrame, Message, Utf8Bytes};

/// Extractor for establishing WebSocket connections, as axum's
/// `WebSocketUpgrade`, negotiating permessage-deflate by default.
///
/// HTTP/1.1 only: the request method must be `GET`.
#[must_use]
pub struct WebSocketUpgrade<F = DefaultOnFailedUpgrade> {
    config: WebSocketConfig,
    extensions: Extensions,
    protocol: Option<HeaderValue>,
    head: http::Request<()>,
    on_upgrade: hyper::upgrade::OnUpgrade,
    on_failed_upgrade: F,
    sec_websocket_protocol: BTreeSet<HeaderValue>,
}

/// Which extensions to offer.
#[derive(Debug, Clone)]
enum Extensions {
    Deflate(Option<DeflateConfig>),
    Custom(ServerNegotiator),
}

impl<F> std::fmt::Debug for WebSocketUpgrade<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketUpgrade")
            .field("config", &self.config)
            .field("extensions", &self.extensions)
            .field("protocol", &self.protocol)
            .field("sec_websocket_protocol", &self.sec_websocket_protocol)
            .finish_non_exhaustive()
    }
}

impl<F> WebSocketUpgrade<F> {
    /// Accepted for compatibility with axum; no effect (wsx sizes its read
    /// buffer to what arrives).
    pub fn read_buffer_size(self, _size: usize) -> Self {
        self
    }

    /// Encoded bytes queued before a send waits for the socket
    /// ([`WebSocketConfig::write_buffer_size`], default 128 KiB).
    pub fn write_buffer_size(mut self, size: usize) -> Self {
        self.config.write_buffer_size = size;
        self
    }

    /// Accepted for compatibility with axum; no effect (the write queue is
    /// bounded by [`write_buffer_size`](Self::write_buffer_size)).
    pub fn max_write_buffer_size(self, _max: usize) -> Self {
        self
    }

    /// Largest message accepted, after decompression (default 64 MiB).
    pub fn max_message_size(mut self, max: usize) -> Self {
        self.config.max_message_size = max;
        self
    }

    /// Largest frame accepted, as sent on the wire (default 64 MiB).
    pub fn max_frame_size(mut self, max: usize) -> Self {
        self.config.max_frame_size = max;
        self
    }

    /// Accepted for compatibility with axum; no effect: client frames must
    /// be masked (RFC 6455 §5.1).
    pub fn accept_unmasked_frames(self, _accept: bool) -> Self {
        self
    }

    /// The whole connection configuration (replaces what the size setters
    /// set).
    pub fn websocket_config(mut self, config: WebSocketConfig) -> Self {
        self.config = config;
        self
    }

    /// The permessage-deflate policy: `Some(config)` to offer it with these
    /// parameters (the default is `Some(DeflateConfig::default())`), `None`
    /// to never compress.
    pub fn deflate(mut self, config: Option<DeflateConfig>) -> Self {
        self.extensions = Extensions::Deflate(config);
        self
    }

    /// The extensions to negotiate, in full (instead of
    /// [`deflate`](Self::deflate)); for example multiplexing, or your own.
    pub fn extensions(mut self, negotiator: ServerNegotiator) -> Self {
        self.extensions = Extensions::Custom(negotiator);
        self
    }

    /// Set the known protocols, in decreasing order of preference; the
    /// first one the client offered is selected.
    pub fn protocols<I>(mut self, protocols: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<Cow<'static, str>>,
    {
        self.protocol = protocols.into_iter().map(Into::into).find_map(|proto| {
            let proto = HeaderValue::from_str(&proto).ok()?;
            self.sec_websocket_protocol
                .contains(&proto)
                .then_some(proto)
        });
        self
    }

    /// The subprotocols the client requested.
    pub fn requested_protocols(&self) -> impl Iterator<Item = &HeaderValue> {
        self.sec_websocket_protocol.iter()
    }

    /// Set the chosen subprotocol (the latest of this and
    /// [`protocols`](Self::protocols) wins).
    pub fn set_selected_protocol(&mut self, protocol: HeaderValue) {
        self.protocol = Some(protocol);
    }

    /// The selected subprotocol, if one has been chosen.
    pub fn selected_protocol(&self) -> Option<&HeaderValue> {
        self.protocol.as_ref()
    }

    /// Provide a callback to call if upgrading the connection fails (in the
    /// background task, after the 101). By default errors are ignored.
    pub fn on_failed_upgrade<C>(self, callback: C) -> WebSocketUpgrade<C>
    where
        C: OnFailedUpgrade,
    {
        WebSocketUpgrade {
            config: self.config,
            extensions: self.extensions,
            protocol: self.protocol,
            head: self.head,
            on_upgrade: self.on_upgrade,
            on_failed_upgrade: callback,
            sec_websocket_protocol: self.sec_websocket_protocol,
        }
    }

    /// Finalize upgrading the connection and call `callback` with the
    /// socket. The returned response is the 101 (with
    /// `Sec-WebSocket-Extensions` when an extension was negotiated), or an
    /// error response if wsx's validation of the request fails (for
    /// example a `Sec-WebSocket-Key` that is not 16 bytes in base64).
    #[must_use = "to set up the WebSocket connection, this response must be returned"]
    pub fn on_upgrade<C, Fut>(self, callback: C) -> Response
    where
        C: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
        F: OnFailedUpgrade,
    {
        let negotiator = match self.extensions {
            Extensions::Custom(n) => n,
            Extensions::Deflate(None) => ServerNegotiator::new(),
            Extensions::Deflate(Some(cfg)) => match PerMessageDeflateServer::try_new(cfg) {
                Ok(pmd) => ServerNegotiator::new().with(pmd),
                Err(e) => {
                    tracing::error!("invalid permessage-deflate configuration: {e}");
                    return (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "invalid permessage-deflate configuration",
                    )
                        .into_response();
                }
            },
        };
        let server = ServerConfig::default()
            .with_websocket(self.config.clone())
            .with_extensions(negotiator);
        let mut accepted = match crate::negotiate_upgrade(&self.head, &server) {
            Ok(accepted) => accepted,
            Err(e) => return (e.status(), e.to_string()).into_response(),
        };
        let mut response = std::mem::take(&mut accepted.response).map(|()| Body::empty());
        response
            .headers_mut()
            .remove(header::SEC_WEBSOCKET_PROTOCOL);
        accepted.protocol = None;
        if let Some(protocol) = &self.protocol {
            response
                .headers_mut()
                .insert(header::SEC_WEBSOCKET_PROTOCOL, protocol.clone());
            accepted.protocol = protocol.to_str().ok().map(str::to_owned);
        }

        let on_upgrade = self.on_upgrade;
        let on_failed_upgrade = self.on_failed_upgrade;
        let protocol = self.protocol;
        let config = self.config;
        tokio::spawn(async move {
            let upgraded = match on_upgrade.await {
                Ok(upgraded) => upgraded,
                Err(err) => {
                    on_failed_upgrade.call(axum::Error::new(err));
                    return;
                }
            };
            let inner = WebSocketStream::from_upgraded(TokioIo::new(upgraded), accepted, config);
            callback(WebSocket {
                inner,
                protocol,
                terminated: false,
            })
            .await;
        });
        response
    }
}

/// What to do when a connection upgrade fails (as axum's).
pub trait OnFailedUpgrade: Send + 'static {
    /// Call the callback.
    fn call(self, error: axum::Error);
}

impl<F> OnFailedUpgrade for F
where
    F: FnOnce(axum::Error) + Send + 'static,
{
    fn call(self, error: axum::Error) {
        self(error)
    }
}

/// The default [`OnFailedUpgrade`]: ignores the error.
#[non_exhaustive]
#[derive(Debug)]
pub struct DefaultOnFailedUpgrade;

impl OnFailedUpgrade for DefaultOnFailedUpgrade {
    #[inline]
    fn call(self, _error: axum::Error) {}
}

impl<S> FromRequestParts<S> for WebSocketUpgrade<DefaultOnFailedUpgrade>
where
    S: Send + Sync,
{
    type Rejection = WebSocketUpgradeRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // The checks and their order are axum's, for the same rejections.
        if parts.version > Version::HTTP_11 || parts.method != Method::GET {
            return Err(MethodNotGet.into());
        }
        if !header_contains(&parts.headers, header::CONNECTION, "upgrade") {
            return Err(InvalidConnectionHeader.into());
        }
        if !header_eq(&parts.headers, header::UPGRADE, "websocket") {
            return Err(InvalidUpgradeHeader.into());
        }
        if !parts.headers.contains_key(header::SEC_WEBSOCKET_KEY) {
            return Err(WebSocketKeyHeaderMissing.into());
        }
        if !header_eq(&parts.headers, header::SEC_WEBSOCKET_VERSION, "13") {
            return Err(InvalidWebSocketVersionHeader.into());
        }
        let on_upgrade = parts
            .extensions
            .remove::<hyper::upgrade::OnUpgrade>()
            .ok_or(ConnectionNotUpgradable)?;

        let sec_websocket_protocol = parts
            .headers
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .flat_map(|val| val.as_bytes().split(|&b| b == b','))
            .filter_map(|proto| HeaderValue::from_bytes(proto.trim_ascii()).ok())
            .collect();

        let mut head = http::Request::new(());
        *head.method_mut() = parts.method.clone();
        *head.uri_mut() = parts.uri.clone();
        *head.version_mut() = parts.version;
        *head.headers_mut() = parts.headers.clone();

        Ok(Self {
            config: WebSocketConfig::default(),
            extensions: Extensions::Deflate(Some(DeflateConfig::default())),
            protocol: None,
            head,
            on_upgrade,
            on_failed_upgrade: DefaultOnFailedUpgrade,
            sec_websocket_protocol,
        })
    }
}

fn header_eq(headers: &HeaderMap, key: HeaderName, value: &'static str) -> bool {
    headers
        .get(&key)
        .is_some_and(|h| h.as_bytes().eq_ignore_ascii_case(value.as_bytes()))
}

fn header_contains(headers: &HeaderMap, key: HeaderName, value: &'static str) -> bool {
    headers
        .get(&key)
        .and_then(|h| std::str::from_utf8(h.as_bytes()).ok())
        .is_some_and(|h| h.to_ascii_lowercase().contains(value))
}

/// A WebSocket connection, as axum's `WebSocket`: a `Stream` of received
/// [`Message`]s and a `Sink` of messages to send (so `split` works).
///
/// Pings are answered and close frames replied to automatically; they are
/// still yielded.
#[derive(Debug)]
pub struct WebSocket {
    inner: WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>,
    protocol: Option<HeaderValue>,
    terminated: bool,
}

impl WebSocket {
    /// Receive another message; `None` once the connection has closed.
    pub async fn recv(&mut self) -> Option<Result<Message, axum::Error>> {
        futures_util::StreamExt::next(self).await
    }

    /// Send a message.
    pub async fn send(&mut self, msg: Message) -> Result<(), axum::Error> {
        futures_util::SinkExt::send(&mut self.inner, to_engine(msg)?)
            .await
            .map_err(axum::Error::new)
    }

    /// The selected subprotocol, if one has been chosen.
    pub fn protocol(&self) -> Option<&HeaderValue> {
        self.protocol.as_ref()
    }

    /// The negotiated `Sec-WebSocket-Extensions` value (for example
    /// `permessage-deflate`), if any. Not in axum.
    pub fn extensions(&self) -> Option<&str> {
        self.inner.extensions()
    }

    /// The wsx connection underneath. Not in axum.
    pub fn get_ref(&self) -> &WebSocketStream<TokioIo<hyper::upgrade::Upgraded>> {
        &self.inner
    }
}

impl FusedStream for WebSocket {
    fn is_terminated(&self) -> bool {
        self.terminated
    }
}

impl Stream for WebSocket {
    type Item = Result<Message, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.terminated {
            return Poll::Ready(None);
        }
        loop {
            match ready!(Pin::new(&mut self.inner).poll_next(cx)) {
                Some(Ok(msg)) => {
                    if let Some(msg) = from_engine(msg) {
                        return Poll::Ready(Some(msg));
                    }
                }
                Some(Err(err)) => return Poll::Ready(Some(Err(axum::Error::new(err)))),
                None => {
                    self.terminated = true;
                    return Poll::Ready(None);
                }
            }
        }
    }
}

impl Sink<Message> for WebSocket {
    type Error = axum::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner)
            .poll_ready(cx)
            .map_err(axum::Error::new)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
        Pin::new(&mut self.inner)
            .start_send(to_engine(item)?)
            .map_err(axum::Error::new)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner)
            .poll_flush(cx)
            .map_err(axum::Error::new)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner)
            .poll_close(cx)
            .map_err(axum::Error::new)
    }
}

/// axum's message as the engine's. Infallible in practice: an axum
/// `Utf8Bytes` is valid UTF-8 by construction; the check is kept rather
/// than assumed.
fn to_engine(message: Message) -> Result<tungstenite::Message, axum::Error> {
    fn text(t: Utf8Bytes) -> Result<tungstenite::Utf8Bytes, axum::Error> {
        tungstenite::Utf8Bytes::try_from(Bytes::from(t)).map_err(axum::Error::new)
    }
    Ok(match message {
        Message::Text(t) => tungstenite::Message::Text(text(t)?),
        Message::Binary(b) => tungstenite::Message::Binary(b),
        Message::Ping(p) => tungstenite::Message::Ping(p),
        Message::Pong(p) => tungstenite::Message::Pong(p),
        Message::Close(Some(close)) => tungstenite::Message::Close(Some(crate::CloseFrame {
            code: crate::CloseCode::from(close.code),
            reason: text(close.reason)?,
        })),
        Message::Close(None) => tungstenite::Message::Close(None),
    })
}

/// The engine's message as axum's; `None` for raw frames, which wsx never
/// yields.
fn from_engine(message: tungstenite::Message) -> Option<Result<Message, axum::Error>> {
    fn text(t: tungstenite::Utf8Bytes) -> Result<Utf8Bytes, axum::Error> {
        Utf8Bytes::try_from(Bytes::from(t)).map_err(axum::Error::new)
    }
    Some(match message {
        tungstenite::Message::Text(t) => text(t).map(Message::Text),
        tungstenite::Message::Binary(b) => Ok(Message::Binary(b)),
        tungstenite::Message::Ping(p) => Ok(Message::Ping(p)),
        tungstenite::Message::Pong(p) => Ok(Message::Pong(p)),
        tungstenite::Message::Close(Some(close)) => text(close.reason).map(|reason| {
            Message::Close(Some(CloseFrame {
                code: close.code.into(),
                reason,
            }))
        }),
        tungstenite::Message::Close(None) => Ok(Message::Close(None)),
        tungstenite::Message::Frame(_) => return None,
    })
}

pub mod rejection {
    //! Rejections of [`WebSocketUpgrade`](super::WebSocketUpgrade), with
    //! axum's statuses and bodies.

    use axum::response::{IntoResponse, Response};
    use http::StatusCode;

    macro_rules! define_rejection {
        ($(#[doc = $doc:literal])* $name:ident, $status:ident, $body:literal) => {
            $(#[doc = $doc])*
            #[derive(Debug, Default, Clone, Copy)]
            #[non_exhaustive]
            pub struct $name;

            impl $name {
                /// The response body text.
                pub fn body_text(&self) -> String {
                    $body.into()
                }

                /// The response status.
                pub fn status(&self) -> StatusCode {
                    StatusCode::$status
                }
            }

            impl IntoResponse for $name {
                fn into_response(self) -> Response {
                    (self.status(), self.body_text()).into_response()
                }
            }

            impl std::fmt::Display for $name {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str($body)
                }
            }

            impl std::error::Error for $name {}

            impl From<$name> for WebSocketUpgradeRejection {
                fn from(r: $name) -> Self {
                    WebSocketUpgradeRejection::$name(r)
                }
            }
        };
    }

    define_rejection!(
        /// The request method is not `GET` (or the request is not HTTP/1.x).
        MethodNotGet, METHOD_NOT_ALLOWED, "Request method must be `GET`"
    );
    define_rejection!(
        /// `Connection` does not include `upgrade`.
        InvalidConnectionHeader, BAD_REQUEST, "Connection header did not include 'upgrade'"
    );
    define_rejection!(
        /// `Upgrade` is not `websocket`.
        InvalidUpgradeHeader, BAD_REQUEST, "`Upgrade` header did not include 'websocket'"
    );
    define_rejection!(
        /// `Sec-WebSocket-Version` is not `13`.
        InvalidWebSocketVersionHeader, BAD_REQUEST, "`Sec-WebSocket-Version` header did not include '13'"
    );
    define_rejection!(
        /// No `Sec-WebSocket-Key`.
        WebSocketKeyHeaderMissing, BAD_REQUEST, "`Sec-WebSocket-Key` header missing"
    );
    define_rejection!(
        /// The connection cannot be upgraded (no upgrade state: for example
        /// the request did not come through hyper's HTTP/1 server).
        ConnectionNotUpgradable, UPGRADE_REQUIRED, "WebSocket request couldn't be upgraded since no upgrade state was present"
    );

    /// Every way the [`WebSocketUpgrade`](super::WebSocketUpgrade)
    /// extractor can fail.
    #[derive(Debug)]
    #[non_exhaustive]
    pub enum WebSocketUpgradeRejection {
        /// See [`MethodNotGet`].
        MethodNotGet(MethodNotGet),
        /// See [`InvalidConnectionHeader`].
        InvalidConnectionHeader(InvalidConnectionHeader),
        /// See [`InvalidUpgradeHeader`].
        InvalidUpgradeHeader(InvalidUpgradeHeader),
        /// See [`InvalidWebSocketVersionHeader`].
        InvalidWebSocketVersionHeader(InvalidWebSocketVersionHeader),
        /// See [`WebSocketKeyHeaderMissing`].
        WebSocketKeyHeaderMissing(WebSocketKeyHeaderMissing),
        /// See [`ConnectionNotUpgradable`].
        ConnectionNotUpgradable(ConnectionNotUpgradable),
    }

    macro_rules! each {
        ($self:ident, $r:ident => $e:expr) => {
            match $self {
                Self::MethodNotGet($r) => $e,
                Self::InvalidConnectionHeader($r) => $e,
                Self::InvalidUpgradeHeader($r) => $e,
                Self::InvalidWebSocketVersionHeader($r) => $e,
                Self::WebSocketKeyHeaderMissing($r) => $e,
                Self::ConnectionNotUpgradable($r) => $e,
            }
        };
    }

    impl WebSocketUpgradeRejection {
        /// The response body text.
        pub fn body_text(&self) -> String {
            each!(self, r => r.body_text())
        }

        /// The response status.
        pub fn status(&self) -> StatusCode {
            each!(self, r => r.status())
        }
    }

    impl IntoResponse for WebSocketUpgradeRejection {
        fn into_response(self) -> Response {
            (self.status(), self.body_text()).into_response()
        }
    }

    impl std::fmt::Display for WebSocketUpgradeRejection {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.body_text())
        }
    }

    impl std::error::Error for WebSocketUpgradeRejection {}
}

pub use rejection::WebSocketUpgradeRejection;
