//! The multiplexing extension over tokio: many logical WebSocket channels on
//! one physical connection ([`ws_mux`] does the protocol, sans-I/O).
//!
//! Every logical channel is a [`MuxChannel`] = `WebSocketStream<ChannelIo>`:
//! the same `Stream<Item = Result<Message>>` + `Sink<Message>` type as a
//! plain connection, with the whole RFC 6455 engine (UTF-8 validation,
//! automatic pong, the closing handshake and its codes, size limits) working
//! inside the channel. A driver task per physical connection owns the
//! physical `WebSocketStream` and the [`ws_mux::MuxSession`], and bridges
//! each channel through an in-memory [`ChannelIo`].
//!
//! ## Why an in-memory transport per channel
//! The issue asks for the very same type as a plain connection. Making the
//! engine generic over a frame transport would have meant reworking
//! `WebSocketStream`; re-encoding each logical frame as an RFC 6455 frame on
//! an in-memory pipe reuses the engine unchanged. The cost is one extra
//! frame header per frame and one copy of outgoing payloads (incoming
//! payloads are handed over without a copy); compression runs once, in the
//! session, per channel.
//!
//! ## Slow channels do not block the others
//! Nothing the driver does waits on one channel. Incoming: a frame is
//! queued on its channel and its quota is granted back to the peer
//! (FlowControl) only once the channel's stream has read it, so a channel
//! nobody reads stops receiving after one receive window
//! ([`ws_mux::MuxConfig::receive_window`], counted on the wire) while the
//! others go on. Outgoing: a channel without send quota keeps its frames in
//! the session's bounded queue ([`ws_mux::MuxConfig::max_send_buffer`]) and
//! in its [`ChannelIo`] ([`channel_io::WRITE_BUFFER`]); beyond that its
//! writer waits, and only that writer.
//!
//! ## Example: a mux echo server and a client with two channels
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use futures_util::{SinkExt, StreamExt};
//! use wsx::mux::{self, MuxAccepted, MuxClientConfig, MuxServerConfig};
//! use wsx::Message;
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let url = format!("ws://{}/first", listener.local_addr()?);
//! tokio::spawn(async move {
//!     let (tcp, _) = listener.accept().await.unwrap();
//!     let Ok(MuxAccepted::Mux(mut server)) = mux::accept_mux(tcp, &MuxServerConfig::default()).await
//!     else { return };
//!     while let Some(channel) = server.next_channel().await {
//!         tokio::spawn(async move {
//!             let mut ws = channel.stream;
//!             while let Some(Ok(m)) = ws.next().await {
//!                 if m.is_text() || m.is_binary() { let _ = ws.send(m).await; }
//!             }
//!         });
//!     }
//! });
//! let (client, mut first) = mux::connect_mux(&url, &MuxClientConfig::default()).await?;
//! let mut second = client.open_channel("/second").await?;
//! first.send(Message::text("one")).await?;
//! second.send(Message::text("two")).await?;
//! assert_eq!(second.next().await.transpose()?, Some(Message::text("two")));
//! # Ok(()) }
//! ```

pub mod channel_io;
mod driver;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::BytesMut;
use futures_core::Stream;
use http::{header, HeaderValue, Request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::debug;
use ws_ext_core::{ClientExtensionFactory, ClientNegotiator, ServerNegotiator};
use ws_mux::{
    ChannelId, ChannelRequest, HandshakeRequest, Headers, MuxClientFactory, MuxConfig,
    MuxServerFactory, MuxSession,
};

pub use channel_io::{ChannelInfo, ChannelIo};

use tungstenite::protocol::frame::coding::CloseCode;

use crate::accept::{read_request, reject, send_rejection};
use crate::config::{ClientConfig, ServerConfig};
use crate::error::HandshakeError;
use crate::proto::handshake::client::{self, ClientHandshake};
use crate::proto::handshake::server::ServerHandshake;
use crate::proto::Role;
use crate::stream::WebSocketStream;
use driver::{Command, Driver};

/// A logical channel: used exactly like a plain connection. Its
/// [`ChannelIo`] (through [`WebSocketStream::get_ref`]) tells the channel's
/// ID, path and extensions, and can drop the channel.
pub type MuxChannel = WebSocketStream<ChannelIo>;

/// What can go wrong with a mux connection or channel.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MuxError {
    /// The physical connection or its opening handshake failed.
    #[error(transparent)]
    WebSocket(#[from] crate::Error),
    /// The server did not accept the multiplexing extension.
    #[error("the server did not accept {token:?} (its extensions: {extensions:?})")]
    NotAgreed {
        /// The token we offered.
        token: String,
        /// The server's `Sec-WebSocket-Extensions` answer.
        extensions: Option<String>,
    },
    /// The mux session refused (no channel slot, fallback, limits…).
    #[error(transparent)]
    Session(ws_mux::MuxError),
    /// The server refused the channel (AddChannelResponse with an HTTP
    /// error status).
    #[error("the server refused the channel with HTTP {status}")]
    Rejected {
        /// The HTTP status.
        status: u16,
    },
    /// The channel was dropped before it opened.
    #[error("the channel was dropped before it opened (code {code:?}: {reason})")]
    ChannelDropped {
        /// The drop code.
        code: Option<u16>,
        /// The reason.
        reason: String,
    },
    /// The physical connection is closed.
    #[error("the physical connection is closed")]
    Closed,
}

impl From<HandshakeError> for MuxError {
    fn from(e: HandshakeError) -> Self {
        MuxError::WebSocket(e.into())
    }
}

impl From<std::io::Error> for MuxError {
    fn from(e: std::io::Error) -> Self {
        MuxError::WebSocket(e.into())
    }
}

// ------------------------------------------------------------------ server

/// Server configuration for mux.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MuxServerConfig {
    /// The physical handshake and limits. Its `extensions` negotiate the
    /// offers listed after `mux` (the physical connection's extensions: no
    /// history-based compression there, or mux is declined; default: none,
    /// unlike [`ServerConfig::default`]); its
    /// `subprotocols` choose the subprotocol of every channel; its
    /// `websocket` limits apply to the physical connection and to every
    /// channel's stream.
    pub server: ServerConfig,
    /// The extension token (default [`ws_mux::DEFAULT_TOKEN`], `mux`;
    /// mod_pywebsocket's is [`ws_mux::PYWEBSOCKET_TOKEN`]).
    pub token: String,
    /// Session limits and flow control.
    pub mux: MuxConfig,
    /// Negotiates each channel's extensions (offers before `mux` for channel
    /// 1, the AddChannelRequest's for the others).
    pub channel_extensions: ServerNegotiator,
    /// Channels accepted but not yet taken with [`MuxServer::next_channel`];
    /// more are refused with 503 (default 65, [`MuxConfig::max_channels`]).
    pub backlog: usize,
}

ws_ext_core::config_setters!(MuxServerConfig {
    with_server => server: ServerConfig,
    with_token => token: String,
    with_mux => mux: MuxConfig,
    with_channel_extensions => channel_extensions: ServerNegotiator,
    with_backlog => backlog: usize,
});

impl Default for MuxServerConfig {
    fn default() -> Self {
        MuxServerConfig {
            // No extension on the physical connection: channels negotiate
            // their own (`channel_extensions`).
            server: ServerConfig::default().without_extensions(),
            token: ws_mux::DEFAULT_TOKEN.to_owned(),
            mux: MuxConfig::default(),
            channel_extensions: ServerNegotiator::new(),
            backlog: 65,
        }
    }
}

/// The outcome of [`accept_mux`]: a client that did not offer (or could not
/// get) mux gets a plain connection.
#[derive(Debug)]
pub enum MuxAccepted<S> {
    /// Mux was agreed: take the channels from the [`MuxServer`].
    Mux(MuxServer),
    /// A plain WebSocket connection (boxed: it is much larger than the
    /// handle of the other variant).
    Plain(Box<WebSocketStream<S>>),
}

/// A logical channel the client opened (channel 1 is the first).
#[derive(Debug)]
pub struct IncomingChannel {
    /// The channel's opening request (delta already applied). For channel 1
    /// this is the physical request.
    pub request: HandshakeRequest,
    /// The channel.
    pub stream: MuxChannel,
}

impl IncomingChannel {
    /// The request target (`/chat?room=1`).
    pub fn path(&self) -> &str {
        &self.request.path
    }
}

/// The server end of a mux connection: yields each channel the client
/// opens. The connection lives in its own task; dropping this value makes
/// new channels be refused (503) while open ones go on, and the physical
/// connection closes (1000) once they are done. [`MuxServer::close`] closes
/// it with a code of your choice.
#[derive(Debug)]
pub struct MuxServer {
    incoming: mpsc::Receiver<IncomingChannel>,
    commands: mpsc::Sender<Command>,
    token: String,
}

impl MuxServer {
    /// The next channel, or `None` once the physical connection is closed.
    pub async fn next_channel(&mut self) -> Option<IncomingChannel> {
        self.incoming.recv().await
    }

    /// The agreed token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Close the physical connection with `code` (e.g. [`CloseCode::Away`]
    /// when the server shuts down). Channels still open end with it, and what they wrote
    /// but the connection has not sent yet is dropped: close the channels
    /// first (and wait for them) for a clean closing handshake on each, as
    /// `wsx serve --mux` does on SIGTERM.
    pub async fn close(self, code: CloseCode, reason: &str) {
        let _ = self
            .commands
            .send(Command::Close {
                code: code.into(),
                reason: reason.to_owned(),
            })
            .await;
    }
}

impl Stream for MuxServer {
    type Item = IncomingChannel;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<IncomingChannel>> {
        self.incoming.poll_recv(cx)
    }
}

/// Read the upgrade request and accept, with mux if the client offers it.
pub async fn accept_mux<S>(
    mut stream: S,
    config: &MuxServerConfig,
) -> Result<MuxAccepted<S>, MuxError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let deadline = tokio::time::Instant::now() + config.server.handshake_timeout;
    let read = tokio::time::timeout_at(
        deadline,
        read_request(&mut stream, config.server.max_header_bytes),
    )
    .await;
    let (req, leftover) = match read {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return Err(reject(stream, e).await.into()),
        Err(_) => return Err(reject(stream, HandshakeError::Timeout).await.into()),
    };
    accept_mux_request(stream, &req, leftover, config).await
}

/// Answer an upgrade request that was already read (see
/// [`crate::read_request`]), with mux if the client offers it.
pub async fn accept_mux_request<S>(
    mut stream: S,
    req: &Request<()>,
    leftover: BytesMut,
    config: &MuxServerConfig,
) -> Result<MuxAccepted<S>, MuxError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // The request is checked and answered like any server's; the
    // extensions are negotiated here, mux and channel 1 with them.
    let negotiated =
        ServerHandshake::accept_with_extensions(req, leftover, &config.server, |lines| {
            let mut n = ws_mux::negotiate_server(
                lines,
                &config.server.extensions,
                &MuxServerFactory::new(config.token.clone()),
                &config.channel_extensions,
            )?;
            let physical = std::mem::take(&mut n.physical);
            let header = n.response_header.clone();
            Ok((physical, header, n))
        });
    let (head, done, negotiation) = match negotiated {
        Ok(r) => r,
        Err(rejection) => return Err(send_rejection(stream, rejection).await.into()),
    };
    stream.write_all(&head).await?;
    stream.flush().await?;
    let protocol = done.protocol.clone();
    let (conn, leftover, _) = done.into_connection(config.server.websocket.clone());
    let ws = WebSocketStream::from_connection(stream, conn, leftover);
    let Some(agreement) = negotiation.mux else {
        return Ok(MuxAccepted::Plain(Box::new(ws)));
    };
    let headers = headers_of(req.headers());
    let path = req
        .uri()
        .path_and_query()
        .map_or("/".to_owned(), |p| p.as_str().to_owned());
    let info = ChannelInfo {
        id: 1,
        path: path.clone(),
        extensions: names(&negotiation.channel1),
        protocol,
    };
    debug!(token = %agreement.token, quota = ?agreement.quota, channel1 = ?info.extensions, "mux accepted");
    let session = MuxSession::server(
        driver_config(&config.mux),
        config.channel_extensions.clone(),
        &agreement,
        &headers,
        negotiation.channel1,
    );
    let (tx, rx) = mpsc::channel(config.backlog.max(1));
    let (commands, commands_rx) = mpsc::channel(1);
    let (driver, channel1) = Driver::server(
        ws,
        session,
        config.server.websocket.clone(),
        config.server.subprotocols.clone(),
        tx.clone(),
        commands_rx,
        info,
    );
    let _ = tx.try_send(IncomingChannel {
        request: HandshakeRequest::get(path, headers),
        stream: channel1,
    });
    tokio::spawn(driver.run());
    Ok(MuxAccepted::Mux(MuxServer {
        incoming: rx,
        commands,
        token: agreement.token,
    }))
}

// ------------------------------------------------------------------ client

/// Client configuration for mux.
#[derive(Clone)]
#[non_exhaustive]
pub struct MuxClientConfig {
    /// The physical handshake and limits. Its `extensions` are offered after
    /// `mux` (for the physical connection; default: none, unlike
    /// [`ClientConfig::default`]); `subprotocols` are offered for
    /// channel 1; `websocket` limits apply to the physical connection and to
    /// every channel's stream.
    pub client: ClientConfig,
    /// The extension token (default `mux`; [`ws_mux::PYWEBSOCKET_TOKEN`] for
    /// mod_pywebsocket).
    pub token: String,
    /// More tokens offered right after `token` (same `quota`); the one the
    /// server answers with is used. `wsx client --mux` offers
    /// `mux_DO_NOT_USE` then `mux`, so that it works with mod_pywebsocket
    /// (for which the later `mux` is an unknown physical extension) and with
    /// draft servers (for which the earlier token is an unknown channel
    /// extension). Default none.
    pub alternate_tokens: Vec<String>,
    /// The `quota` offer parameter: the server's initial send quota on
    /// channel 1 (mod_pywebsocket needs it; default `None`).
    pub quota: Option<u32>,
    /// Session limits and flow control.
    pub mux: MuxConfig,
    /// Extensions offered for every channel (before `mux` for channel 1, in
    /// each AddChannelRequest for the others), e.g. permessage-deflate.
    pub channel_extensions: Vec<Arc<dyn ClientExtensionFactory>>,
}

ws_ext_core::config_setters!(MuxClientConfig {
    with_client => client: ClientConfig,
    with_token => token: String,
    with_alternate_tokens => alternate_tokens: Vec<String>,
    with_quota => quota: Option<u32>,
    with_mux => mux: MuxConfig,
    with_channel_extensions => channel_extensions: Vec<Arc<dyn ClientExtensionFactory>>,
});

impl Default for MuxClientConfig {
    fn default() -> Self {
        MuxClientConfig {
            // No extension on the physical connection (see the server's).
            client: ClientConfig::default().without_extensions(),
            token: ws_mux::DEFAULT_TOKEN.to_owned(),
            alternate_tokens: Vec::new(),
            quota: None,
            mux: MuxConfig::default(),
            channel_extensions: Vec::new(),
        }
    }
}

impl std::fmt::Debug for MuxClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MuxClientConfig")
            .field("client", &self.client)
            .field("token", &self.token)
            .field("alternate_tokens", &self.alternate_tokens)
            .field("quota", &self.quota)
            .field("mux", &self.mux)
            .field("channel_extensions", &self.channel_extensions.len())
            .finish()
    }
}

impl MuxClientConfig {
    /// What mod_pywebsocket 0.7.9 needs: token `mux_DO_NOT_USE`, `quota`
    /// offered (it gives channel 1 no other initial quota), its window
    /// sizes ([`MuxConfig::pywebsocket`]).
    pub fn pywebsocket() -> Self {
        MuxClientConfig {
            token: ws_mux::PYWEBSOCKET_TOKEN.to_owned(),
            quota: Some(8192),
            mux: MuxConfig::pywebsocket(),
            ..MuxClientConfig::default()
        }
    }
}

/// The client end of a mux connection: opens more channels. Cheap to clone;
/// the physical connection is closed (1000) once every clone and every
/// channel is gone.
#[derive(Debug, Clone)]
pub struct MuxClient {
    commands: mpsc::Sender<Command>,
    done: watch::Receiver<bool>,
    token: String,
    extensions: Option<String>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Open { request, .. } => {
                f.debug_struct("Open").field("path", &request.path).finish()
            }
            Command::Close { code, reason } => f
                .debug_struct("Close")
                .field("code", code)
                .field("reason", reason)
                .finish(),
        }
    }
}

impl MuxClient {
    /// Open a logical channel to `path` with the configured channel
    /// extensions. Waits for a channel slot and for the server's answer.
    pub async fn open_channel(&self, path: &str) -> Result<MuxChannel, MuxError> {
        self.open(ChannelRequest::new(path)).await
    }

    /// Open a logical channel as described by `request` (headers,
    /// subprotocols, `plain` for no extension on it).
    pub async fn open(&self, request: ChannelRequest) -> Result<MuxChannel, MuxError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Open { request, reply })
            .await
            .map_err(|_| MuxError::Closed)?;
        rx.await.map_err(|_| MuxError::Closed)?
    }

    /// Give up this handle and wait until the physical connection is
    /// closed: that is once every other clone of this handle and every
    /// channel is gone (channels closed or dropped), when the client closes
    /// it with 1000, or when the server or the network ends it.
    pub async fn close(self) {
        let MuxClient {
            commands, mut done, ..
        } = self;
        drop(commands);
        let _ = done.wait_for(|d| *d).await;
    }

    /// The agreed token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The physical response's `Sec-WebSocket-Extensions`.
    pub fn extensions(&self) -> Option<&str> {
        self.extensions.as_deref()
    }
}

/// Connect to a `ws://` or `wss://` URL with mux; returns the client and
/// channel 1 (the URL's path). Fails with [`MuxError::NotAgreed`] if the
/// server does not accept mux. `wss://` trusts the `webpki-roots` Mozilla
/// roots (feature `tls`); for other roots use [`connect_mux_tls_with`], for
/// another transport [`client_mux_handshake`].
pub async fn connect_mux(
    url: &str,
    config: &MuxClientConfig,
) -> Result<(MuxClient, MuxChannel), MuxError> {
    connect_mux_via(url, config, crate::connect::default_tls()?).await
}

/// [`connect_mux`] with a TLS connector of your choice for `wss://` (a
/// private CA, say): TCP, the TLS handshake, then the mux handshake, all
/// within the handshake timeout. `ws://` URLs connect in plain TCP.
#[cfg(feature = "tls")]
pub async fn connect_mux_tls_with(
    url: &str,
    config: &MuxClientConfig,
    tls: &crate::tls::TlsConnector,
) -> Result<(MuxClient, MuxChannel), MuxError> {
    connect_mux_via(url, config, Some(tls)).await
}

async fn connect_mux_via(
    url: &str,
    config: &MuxClientConfig,
    tls: Option<&crate::connect::TlsConnector>,
) -> Result<(MuxClient, MuxChannel), MuxError> {
    let target = client::Target::parse(url)?;
    let fut = async {
        let stream = crate::connect::open_transport(&target, tls).await?;
        client_mux_handshake(stream, &target, config).await
    };
    match tokio::time::timeout(config.client.handshake_timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(HandshakeError::Timeout.into()),
    }
}

/// Run the mux client handshake over a connected stream (TCP, TLS…) and
/// start the connection's task.
pub async fn client_mux_handshake<S>(
    mut stream: S,
    target: &client::Target,
    config: &MuxClientConfig,
) -> Result<(MuxClient, MuxChannel), MuxError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let factories: Vec<MuxClientFactory> = std::iter::once(&config.token)
        .chain(&config.alternate_tokens)
        .map(|t| MuxClientFactory::new(t.clone(), config.quota))
        .collect();
    let mut channel_offer = ClientNegotiator::new();
    for f in &config.channel_extensions {
        channel_offer.push(f.clone());
    }
    let mut offers = channel_offer.offers();
    offers.extend(factories.iter().map(MuxClientFactory::offer));
    offers.extend(config.client.extensions.offers());
    let offer = ws_ext_core::header::format(&offers);
    let mut plain = ClientConfig {
        extensions: ClientNegotiator::new(),
        ..config.client.clone()
    };
    let offer_value = HeaderValue::from_str(&offer).map_err(|_| {
        HandshakeError::Invalid(format!("extension offer {offer:?} is not a valid header"))
    })?;
    plain
        .extra_headers
        .insert(header::SEC_WEBSOCKET_EXTENSIONS, offer_value);
    let mut hs = ClientHandshake::new(target, &plain);
    stream.write_all(hs.request()).await?;
    stream.flush().await?;
    // The 101 is checked like any client's (subprotocol included); the
    // extensions are negotiated here, mux and channel 1 with them.
    let switched = loop {
        if let Some(s) = hs.poll_switching()? {
            break s;
        }
        if stream.read_buf(hs.buffer_mut()).await? == 0 {
            return Err(HandshakeError::Eof.into());
        }
    };
    let lines = switched.extension_lines();
    // The token the server chose (the first one it names).
    let answered = ws_ext_core::header::parse(lines.iter().copied()).unwrap_or_default();
    let factory = answered
        .iter()
        .find_map(|e| factories.iter().find(|f| e.is(f.token())))
        .unwrap_or(&factories[0]);
    let negotiation = ws_mux::finish_client(
        lines,
        &config.client.extensions,
        factory,
        &config.channel_extensions,
    )
    .map_err(HandshakeError::from)?;
    let Some(agreement) = negotiation.mux else {
        return Err(MuxError::NotAgreed {
            token: config.token.clone(),
            extensions: negotiation.response_header,
        });
    };
    let request_headers = request_headers(hs.request());
    let response_headers = headers_of(switched.response.headers());
    let info = ChannelInfo {
        id: 1,
        path: target.path.clone(),
        extensions: names(&negotiation.channel1),
        protocol: switched.protocol.clone(),
    };
    debug!(token = %agreement.token, channel1 = ?info.extensions, "mux connected");
    let session = MuxSession::client(
        driver_config(&config.mux),
        config.channel_extensions.clone(),
        &agreement,
        &request_headers,
        &response_headers,
        negotiation.channel1,
    );
    let ws = WebSocketStream::from_parts(
        stream,
        Role::Client,
        negotiation.physical,
        switched.protocol,
        config.client.websocket.clone(),
        switched.leftover,
    );
    let (tx, rx) = mpsc::channel(16);
    let (done_tx, done) = watch::channel(false);
    let (driver, channel1) = Driver::client(ws, session, config.client.websocket.clone(), rx, info);
    tokio::spawn(async move {
        driver.run().await;
        let _ = done_tx.send(true);
    });
    Ok((
        MuxClient {
            commands: tx,
            done,
            token: agreement.token,
            extensions: negotiation.response_header,
        },
        channel1,
    ))
}

/// The headers of our own request bytes (the delta base).
fn request_headers(request: &[u8]) -> Headers {
    let mut headers = [httparse::EMPTY_HEADER; crate::proto::handshake::MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let mut out = Headers::new();
    if req.parse(request).is_ok() {
        for h in req.headers.iter() {
            out.append(h.name, String::from_utf8_lossy(h.value));
        }
    }
    out
}

fn headers_of(map: &http::HeaderMap) -> Headers {
    let mut out = Headers::new();
    for (name, value) in map {
        out.append(name.as_str(), String::from_utf8_lossy(value.as_bytes()));
    }
    out
}

/// The session config the driver needs: quota is granted back when a
/// channel's stream has read a frame, not when the driver routes it.
fn driver_config(mux: &MuxConfig) -> MuxConfig {
    mux.clone().with_auto_release(false)
}

fn names(stack: &ws_ext_core::ExtensionStack) -> Vec<String> {
    stack.names().into_iter().map(str::to_owned).collect()
}

/// The ID of a channel's stream.
pub fn channel_id(stream: &MuxChannel) -> ChannelId {
    stream.get_ref().id()
}
