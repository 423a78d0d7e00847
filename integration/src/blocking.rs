//! The blocking adapter: a [`WebSocket`] over any `std::io::Read + Write`
//! (a `std::net::TcpStream`, a rustls `StreamOwned`, ...), driven by the
//! same sans-I/O engine as the tokio adapter, with the same extensions.
//!
//! ```no_run
//! # fn run() -> Result<(), wsx::Error> {
//! let (mut ws, _response) = wsx::blocking::connect("ws://127.0.0.1:9998/")?;
//! ws.send(wsx::Message::text("hello"))?;
//! let echo = ws.read()?;
//! ws.close(None)?;
//! // Read on until the closing handshake is done.
//! while ws.read().is_ok() {}
//! # let _ = echo; Ok(()) }
//! ```
//!
//! ## Semantics
//! - [`WebSocket::read`] answers pings with pongs and close frames with
//!   close frames on its own, and still returns the `Ping`, `Pong` and
//!   `Close` for information. Once the closing handshake is done it returns
//!   [`Error::ConnectionClosed`]. A protocol violation by the peer sends the
//!   matching close code, finishes the closing handshake, then returns the
//!   error once.
//! - [`WebSocket::send`] encodes and writes a message and flushes;
//!   [`WebSocket::write`] only queues it (it writes once
//!   `write_buffer_size` bytes are queued) and [`WebSocket::flush`] writes
//!   the queue.
//! - TLS. [`connect`] and [`connect_with`] take `wss://` URLs (rustls,
//!   trusting the `webpki-roots` Mozilla roots; [`connect_tls_with`] takes
//!   a [`crate::TlsConnector`] with other roots). A TLS server wraps its
//!   socket in a `rustls::StreamOwned<ServerConnection, TcpStream>` and
//!   calls [`accept_with`].
//! - Timeouts. [`connect_with`] applies `handshake_timeout` to connecting
//!   and the handshake; then `close_timeout` (waiting for the peer during
//!   the closing handshake) and `idle_timeout` (the keepalive: a ping after
//!   that long without a byte from the peer, close 1001 and
//!   [`Error::IdleTimeout`] after as long again) through the socket's read
//!   timeout, as the tokio adapter does with timers. Over a stream given to
//!   [`accept_with`] or [`client_handshake`], give the adapter a way to set
//!   the read timeout with [`WebSocket::set_read_timeout_fn`] (on plain
//!   TCP, [`WebSocket::manage_socket`] does that and more); without one,
//!   nothing can interrupt a blocked read, and the timeouts act only when a
//!   read timeout you set yourself expires. A read that times out with
//!   nothing due returns the I/O error (`WouldBlock` or `TimedOut`) and can
//!   be retried; while waiting for the peer's close it ends the closing
//!   handshake instead.
//! - Hostile peers. The same engine decides as in the tokio adapter: early
//!   UTF-8 validation (a bad prefix of a long text frame fails at once,
//!   without extensions), the read buffer grows in bounded steps as bytes
//!   arrive (never to a frame's announced length up front), after a
//!   failure the peer's frames are skipped as they stream (never
//!   buffered), and after a frame rejected on its header the close frame
//!   goes out, the write side is shut down (on sockets [`connect_with`]
//!   opened, or after [`WebSocket::manage_socket`]) and input is discarded
//!   until EOF or the close timeout.

use std::io::{self, IoSlice, Read as IoRead, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use http::{Request, Response};
#[cfg(feature = "tls")]
use tokio_rustls::rustls;
use tracing::debug;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::Message;
use ws_ext_core::ExtensionStack;

use crate::config::{ClientConfig, ServerConfig, WebSocketConfig};
use crate::error::{Error, HandshakeError};
use crate::proto::connection::{connection_accessors, Connection, Keepalive, Received};
use crate::proto::handshake::client::{ClientHandshake, Target};
use crate::proto::handshake::server::{Rejection, ServerHandshake};
use crate::proto::readbuf::{read_step, READ_CHUNK};
use crate::proto::ReadyState;
use crate::proto::{close, Role};

/// The most bytes zeroed for one read (`std::io::Read` wants an initialised
/// buffer), so a large frame costs O(size) in zeroing.
const MAX_READ: usize = 256 * 1024;
const MAX_IOSLICES: usize = 32;

/// Sets the read timeout of the underlying socket (known when this module
/// created the socket, or given with [`WebSocket::set_read_timeout_fn`]).
type SetReadTimeout<S> = fn(&S, Option<Duration>) -> io::Result<()>;

/// Shuts down the write side of the underlying socket (FIN), known when
/// this module created the socket or after [`WebSocket::manage_socket`].
type ShutdownWrite<S> = fn(&mut S) -> io::Result<()>;

/// A blocking WebSocket connection over `S`.
#[derive(Debug)]
pub struct WebSocket<S> {
    io: S,
    conn: Connection,
    read_buf: BytesMut,
    set_read_timeout: Option<SetReadTimeout<S>>,
    shutdown_write: Option<ShutdownWrite<S>>,
    /// Our write side is shut down (after a frame rejected on its header).
    shutdown: bool,
    /// The last read's size: bytes zeroed for the next read of a frame in
    /// progress grow from it, so a peer trickling a large frame costs no
    /// large memset per byte.
    last_read: usize,
}

impl<S> WebSocket<S> {
    /// What a broadcast group needs to serve this connection from a
    /// cohort ([`crate::broadcast::Subscription::attach`]).
    pub(crate) fn cohort_ticket(
        &mut self,
        seat: std::sync::Arc<crate::proto::cohort::Seat>,
    ) -> Option<(ws_ext_core::EncodingKey, ws_ext_core::SendStack)> {
        self.conn.send.cohort_ticket(seat)
    }

    /// Wrap a connection whose opening handshake is already done. Bytes
    /// read past the end of the handshake go in `leftover`.
    pub fn from_parts(
        io: S,
        role: Role,
        extensions: ExtensionStack,
        protocol: Option<String>,
        config: WebSocketConfig,
        leftover: BytesMut,
    ) -> Self {
        let conn = Connection::new(role, extensions, protocol, config);
        Self::from_connection(io, conn, leftover)
    }

    fn from_connection(io: S, conn: Connection, leftover: BytesMut) -> Self {
        WebSocket {
            io,
            conn,
            read_buf: leftover,
            set_read_timeout: None,
            shutdown_write: None,
            shutdown: false,
            last_read: 0,
        }
    }

    connection_accessors!();

    /// Give the adapter a way to set the socket's read timeout, so it can
    /// bound its blocking reads by the keepalive (`idle_timeout`) and the
    /// close timeout. [`connect_with`] sets it; for a stream given to
    /// [`accept_with`] or [`client_handshake`], pass the socket's own
    /// setter. The adapter then owns the socket's read timeout.
    ///
    /// ```no_run
    /// # fn run() -> Result<(), wsx::Error> {
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let (tcp, _) = listener.accept()?;
    /// let mut ws = wsx::blocking::accept(tcp)?;
    /// ws.set_read_timeout_fn(std::net::TcpStream::set_read_timeout);
    /// # Ok(()) }
    /// ```
    pub fn set_read_timeout_fn(&mut self, f: fn(&S, Option<Duration>) -> io::Result<()>) {
        self.set_read_timeout = Some(f);
    }

    /// Give back the underlying connection (queued bytes are lost).
    pub fn into_inner(self) -> S {
        self.io
    }

    fn finish(&mut self) -> Error {
        self.conn.terminate().unwrap_or(Error::ConnectionClosed)
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

impl<S: IoRead + Write> WebSocket<S> {
    /// Write out the whole queue (vectored).
    fn write_out(&mut self) -> io::Result<()> {
        while !self.conn.out.is_empty() {
            let mut slices = [IoSlice::new(&[]); MAX_IOSLICES];
            let k = self.conn.out.io_slices(&mut slices);
            let n = match self.io.write_vectored(&slices[..k]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.conn.out.advance(n);
        }
        Ok(())
    }

    fn flush_all(&mut self) -> io::Result<()> {
        self.write_out()?;
        self.io.flush()
    }

    /// Bound the next read by `deadline` through the socket's read
    /// timeout, where we can.
    fn arm_read_deadline(&mut self, deadline: Instant) {
        if let Some(set) = self.set_read_timeout {
            let left = deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1));
            if let Err(e) = set(&self.io, Some(left)) {
                debug!(error = %e, "could not set the socket's read timeout");
            }
        }
    }

    /// Apply the remaining close timeout to the socket, where we can.
    fn arm_close_timeout(&mut self) {
        if let Some(deadline) = self.conn.close_deadline() {
            self.arm_read_deadline(deadline);
        }
    }

    /// Our close frame, then FIN (where we know how), once: the byte
    /// stream is lost, only EOF is read from now on.
    fn shut_down_write(&mut self) -> Result<(), Error> {
        if self.shutdown {
            return Ok(());
        }
        if let Err(e) = self.flush_all() {
            debug!(error = %e, "write failed while closing");
            return Err(self.finish());
        }
        if let Some(shutdown) = self.shutdown_write {
            if let Err(e) = shutdown(&mut self.io) {
                debug!(error = %e, "could not shut down the write side");
            }
        }
        self.shutdown = true;
        Ok(())
    }

    /// One read into `buf`, retried when interrupted. `Ok(0)` is EOF (a
    /// TLS peer that closed TCP without close_notify included).
    fn read_into(io: &mut S, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match io.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                r => return r,
            }
        }
    }

    /// Read more bytes into the read buffer; `need` is the receiver's hint
    /// of how many more the frame in progress needs. `Ok(0)` is EOF.
    ///
    /// As in the tokio adapter: with nothing buffered (between messages, or
    /// `keep` false: input is discarded) the read goes to a buffer on the
    /// stack and the read buffer is released first, so a connection that
    /// waits for its next message holds none; what arrives is copied into a
    /// buffer of its size. A frame in progress is read in place, making
    /// room in bounded steps ([`read_step`]) as its bytes arrive, never its
    /// announced length up front.
    fn fill(&mut self, need: usize, keep: bool) -> io::Result<usize> {
        if self.read_buf.is_empty() || !keep {
            if self.read_buf.is_empty() && self.read_buf.capacity() > 0 {
                self.read_buf = BytesMut::new();
            }
            let mut stack = [0u8; READ_CHUNK];
            let n = Self::read_into(&mut self.io, &mut stack)?;
            if keep {
                if self.read_buf.capacity() < n {
                    self.read_buf = BytesMut::with_capacity(n);
                }
                self.read_buf.extend_from_slice(&stack[..n]);
            }
            self.last_read = n;
            return Ok(n);
        }
        let step = read_step(need, self.read_buf.len());
        self.read_buf.reserve(step);
        // Zero (and offer the reader) at most MAX_READ, and at most twice
        // what the last read gave: large reads for a fast peer, small ones
        // for a trickle.
        let len = step
            .min(MAX_READ)
            .min(self.last_read.saturating_mul(2).max(READ_CHUNK));
        let start = self.read_buf.len();
        self.read_buf.resize(start + len, 0);
        let r = Self::read_into(&mut self.io, &mut self.read_buf[start..]);
        let n = *r.as_ref().unwrap_or(&0);
        self.read_buf.truncate(start + n);
        self.last_read = n;
        r
    }

    /// After the closing handshake or a failure: flush; the client waits
    /// for the server to close TCP first (RFC 6455 §7.1.1), up to the close
    /// timeout. The server closes TCP when the `WebSocket` is dropped.
    fn wind_down(&mut self) -> Error {
        if let Err(e) = self.flush_all() {
            debug!(error = %e, "write failed while closing");
            return self.finish();
        }
        if self.conn.awaits_peer_eof() {
            self.arm_close_timeout();
            self.read_buf = BytesMut::new();
            loop {
                match self.fill(0, false) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => continue,
                }
            }
            self.conn.read_done = true;
        }
        self.finish()
    }

    /// Read the next message. Pings are answered and close frames replied
    /// to before this returns them. After the closing handshake:
    /// [`Error::ConnectionClosed`].
    pub fn read(&mut self) -> Result<Message, Error> {
        loop {
            if self.conn.terminated {
                return Err(Error::ConnectionClosed);
            }
            if !self.conn.out.is_empty() {
                if let Err(e) = self.flush_all() {
                    if is_timeout(&e) {
                        return Err(e.into());
                    }
                    return Err(self.conn.terminate().unwrap_or(e.into()));
                }
            }
            if self.conn.should_wind_down() {
                return Err(self.wind_down());
            }
            let need = if self.conn.discard_input {
                // Our close frame, then FIN at once; read only to see EOF
                // (closing with unread input would reset the connection and
                // could destroy the close frame in flight).
                self.shut_down_write()?;
                self.read_buf = BytesMut::new();
                0
            } else {
                match self.conn.receive(&mut self.read_buf) {
                    Received::NeedMore(n) => n,
                    Received::Message(msg, replied) => {
                        if replied {
                            if let Err(e) = self.flush_all() {
                                debug!(error = %e, "could not write the reply yet");
                            }
                        }
                        return Ok(msg);
                    }
                    Received::Failed | Received::Drained => continue,
                }
            };
            let idle_deadline = match self.conn.poll_keepalive(Instant::now) {
                Keepalive::Acted => continue,
                Keepalive::Wait(deadline) => Some(deadline),
                Keepalive::Off => None,
            };
            if self.conn.close_sent {
                if self
                    .conn
                    .close_deadline()
                    .is_some_and(|d| Instant::now() >= d)
                {
                    debug!("peer did not answer the close frame in time");
                    self.conn.read_done = true;
                    continue;
                }
                self.arm_close_timeout();
            } else if let Some(deadline) = idle_deadline {
                self.arm_read_deadline(deadline);
            }
            let keep = !self.conn.discard_input;
            match self.fill(need, keep) {
                Ok(0) => self.conn.on_eof()?,
                Ok(_) => self.conn.input_received(Instant::now),
                Err(e) if is_timeout(&e) && self.conn.close_sent => {
                    debug!("peer did not answer the close frame in time");
                    self.conn.read_done = true;
                }
                // The keepalive's deadline (or a timeout of the user's
                // after it): go round, the keepalive acts.
                Err(e)
                    if is_timeout(&e)
                        && idle_deadline.is_some_and(|d| {
                            self.set_read_timeout.is_some() || Instant::now() >= d
                        }) => {}
                Err(e) if is_timeout(&e) => return Err(e.into()),
                Err(e) => return Err(self.conn.terminate().unwrap_or(e.into())),
            }
        }
    }

    /// Queue a message; the queue is written out once it holds
    /// `write_buffer_size` bytes. Call [`WebSocket::flush`] to send now.
    pub fn write(&mut self, msg: Message) -> Result<(), Error> {
        match msg {
            Message::Close(frame) if !self.conn.terminated && !self.conn.close_sent => {
                self.conn.queue_close(frame)
            }
            msg => self.conn.encode(msg)?,
        }
        if self.conn.out.len() >= self.conn.config.write_buffer_size {
            self.write_out()?;
        }
        Ok(())
    }

    /// Queue a message and flush.
    pub fn send(&mut self, msg: Message) -> Result<(), Error> {
        self.write(msg)?;
        self.flush()
    }

    /// Queue a prepared message ([`crate::PreparedMessage`], as
    /// [`WebSocket::write`]): on a server whose send stack can share, the
    /// frame encoded once for every connection with the same key;
    /// otherwise encoded for this connection. `Ok(true)`: shared.
    pub fn write_prepared(&mut self, msg: &crate::PreparedMessage) -> Result<bool, Error> {
        let shared = self.conn.encode_prepared(msg)?;
        if self.conn.out.len() >= self.conn.config.write_buffer_size {
            self.write_out()?;
        }
        Ok(shared)
    }

    /// Queue a prepared message and flush. `Ok(true)`: the shared frame
    /// was written.
    pub fn send_prepared(&mut self, msg: &crate::PreparedMessage) -> Result<bool, Error> {
        let shared = self.write_prepared(msg)?;
        self.flush()?;
        Ok(shared)
    }

    /// Whether prepared messages sent on this connection share their
    /// encoding with other connections, and under which key (as
    /// [`crate::WebSocketStream::shared_key`]).
    pub fn shared_key(&self) -> Option<ws_ext_core::EncodingKey> {
        self.conn.send.shared_key()
    }

    /// Write out everything queued and flush the connection.
    pub fn flush(&mut self) -> Result<(), Error> {
        if self.conn.terminated && self.conn.out.is_empty() {
            return Ok(());
        }
        self.flush_all()?;
        Ok(())
    }

    /// Start the closing handshake: send a close frame (`None`: code 1000
    /// with no reason) unless one was sent, and flush. Keep calling
    /// [`WebSocket::read`] until it returns [`Error::ConnectionClosed`] to
    /// finish the handshake.
    pub fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        if self.conn.terminated {
            return Err(Error::ConnectionClosed);
        }
        self.conn.queue_close(Some(
            frame.unwrap_or_else(|| close::frame(CloseCode::Normal, "")),
        ));
        self.flush_all()?;
        Ok(())
    }
}

impl WebSocket<TcpStream> {
    /// Let the adapter manage this socket as it does the sockets
    /// [`connect_with`] opens: its read timeout (for the keepalive and the
    /// close timeout, see [`WebSocket::set_read_timeout_fn`]) and its write
    /// side (FIN right after our close frame once a frame was rejected on
    /// its header). For a blocking server on plain TCP:
    ///
    /// ```no_run
    /// # fn run() -> Result<(), wsx::Error> {
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let (tcp, _) = listener.accept()?;
    /// let mut ws = wsx::blocking::accept(tcp)?;
    /// ws.manage_socket();
    /// # Ok(()) }
    /// ```
    pub fn manage_socket(&mut self) {
        self.set_read_timeout = Some(TcpStream::set_read_timeout);
        self.shutdown_write = Some(|s| s.shutdown(std::net::Shutdown::Write));
    }
}

/// Accept a WebSocket connection with the default [`ServerConfig`] (no
/// extension, no subprotocol).
pub fn accept<S: IoRead + Write>(stream: S) -> Result<WebSocket<S>, Error> {
    accept_with(stream, &ServerConfig::default())
}

/// Accept a WebSocket connection: read and validate the request, answer 101
/// (or the matching 4xx, then give up). `handshake_timeout` is not applied:
/// set a read timeout on the socket for that.
pub fn accept_with<S: IoRead + Write>(
    mut stream: S,
    config: &ServerConfig,
) -> Result<WebSocket<S>, Error> {
    let (req, leftover) = match read_request(&mut stream, config.max_header_bytes) {
        Ok(r) => r,
        Err(e) => return Err(reject(stream, e)),
    };
    accept_request(stream, &req, leftover, config)
}

/// Read one HTTP request head. Returns the request and any bytes read past
/// its end. Does not answer errors (see [`reject`]).
pub fn read_request<S: IoRead>(
    stream: &mut S,
    max_header_bytes: usize,
) -> Result<(Request<()>, BytesMut), HandshakeError> {
    let mut hs = ServerHandshake::new(max_header_bytes);
    let mut chunk = [0u8; 1024];
    let mut n = 0;
    loop {
        if let Some(r) = hs.feed(&chunk[..n])? {
            return Ok(r);
        }
        n = match stream.read(&mut chunk) {
            Ok(0) => return Err(HandshakeError::Eof),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) if is_timeout(&e) => return Err(HandshakeError::Timeout),
            Err(e) => return Err(e.into()),
        };
    }
}

/// Answer a failed handshake with its HTTP status and reason (best effort)
/// and return the error.
pub fn reject<S: Write>(stream: S, err: HandshakeError) -> Error {
    send_rejection(stream, ServerHandshake::reject(err))
}

fn send_rejection<S: Write>(mut stream: S, rejection: Rejection) -> Error {
    if let Some(answer) = rejection.response {
        let _ = stream.write_all(&answer);
        let _ = stream.flush();
    }
    Error::Handshake(rejection.error)
}

/// Finish a handshake whose request was already read: validate it,
/// negotiate, answer, and wrap the connection. `leftover` holds the bytes
/// read past the request head.
pub fn accept_request<S: IoRead + Write>(
    mut stream: S,
    req: &Request<()>,
    leftover: BytesMut,
    config: &ServerConfig,
) -> Result<WebSocket<S>, Error> {
    let (head, done) = match ServerHandshake::accept(req, leftover, config) {
        Ok(r) => r,
        Err(rejection) => return Err(send_rejection(stream, rejection)),
    };
    stream.write_all(&head)?;
    stream.flush()?;
    let (conn, leftover, _) = done.into_connection(config.websocket.clone());
    Ok(WebSocket::from_connection(stream, conn, leftover))
}

/// A blocking client connection: plain TCP or (with the `tls` feature)
/// rustls over TCP.
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTlsStream {
    /// `ws://`.
    Plain(TcpStream),
    /// `wss://`.
    #[cfg(feature = "tls")]
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl MaybeTlsStream {
    /// The TCP socket (for timeouts and addresses; reading or writing it
    /// directly corrupts the stream).
    pub fn get_ref(&self) -> &TcpStream {
        match self {
            MaybeTlsStream::Plain(s) => s,
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(t) => &t.sock,
        }
    }

    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        match self {
            MaybeTlsStream::Plain(_) => false,
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(_) => true,
        }
    }

    fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.get_ref().set_read_timeout(d)
    }

    /// FIN: our side will send nothing more (TLS: close_notify first).
    fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            MaybeTlsStream::Plain(s) => s.shutdown(std::net::Shutdown::Write),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(t) => {
                t.conn.send_close_notify();
                t.flush()?;
                t.sock.shutdown(std::net::Shutdown::Write)
            }
        }
    }
}

impl IoRead for MaybeTlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            MaybeTlsStream::Plain(s) => s.read(buf),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(t) => t.read(buf),
        }
    }
}

impl Write for MaybeTlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            MaybeTlsStream::Plain(s) => s.write(buf),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(t) => t.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            MaybeTlsStream::Plain(s) => s.write_vectored(bufs),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(t) => t.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            MaybeTlsStream::Plain(s) => s.flush(),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(t) => t.flush(),
        }
    }
}

/// Connect to a `ws://` or `wss://` URL with the default [`ClientConfig`].
pub fn connect(url: &str) -> Result<(WebSocket<MaybeTlsStream>, Response<()>), Error> {
    connect_with(url, &ClientConfig::default())
}

/// Connect to a `ws://` or `wss://` URL: TCP (with `TCP_NODELAY`), TLS for
/// `wss://` (trusting the `webpki-roots` Mozilla roots; see
/// [`connect_tls_with`] for others) and the opening handshake, together
/// bounded by the handshake timeout. The returned socket has no read
/// timeout; the close timeout is applied during the closing handshake.
pub fn connect_with(
    url: &str,
    config: &ClientConfig,
) -> Result<(WebSocket<MaybeTlsStream>, Response<()>), Error> {
    #[cfg(feature = "tls")]
    {
        connect_tls_with(url, config, crate::tls::default_connector()?)
    }
    #[cfg(not(feature = "tls"))]
    {
        connect_inner(url, config, |target, tcp| {
            if target.tls {
                return Err(HandshakeError::Url(format!(
                    "{url}: wss:// needs wsx built with the `tls` feature"
                ))
                .into());
            }
            Ok(MaybeTlsStream::Plain(tcp))
        })
    }
}

/// [`connect_with`] with the trusted roots of `tls` for `wss://` URLs.
#[cfg(feature = "tls")]
pub fn connect_tls_with(
    url: &str,
    config: &ClientConfig,
    tls: &crate::tls::TlsConnector,
) -> Result<(WebSocket<MaybeTlsStream>, Response<()>), Error> {
    use rustls::pki_types::ServerName;
    connect_inner(url, config, |target, mut tcp| {
        if !target.tls {
            return Ok(MaybeTlsStream::Plain(tcp));
        }
        let host = target.host.as_str();
        let name = ServerName::try_from(host.to_owned()).map_err(|e| {
            HandshakeError::Url(format!("{host:?} is not a valid TLS server name: {e}"))
        })?;
        let failed = |e: io::Error| -> Error {
            debug!(error = %e, host, "TLS handshake failed");
            if is_timeout(&e) {
                return HandshakeError::Timeout.into();
            }
            HandshakeError::Io(io::Error::new(
                e.kind(),
                format!("TLS handshake with {host} failed: {e}"),
            ))
            .into()
        };
        let mut conn = rustls::ClientConnection::new(tls.rustls_config(), name)
            .map_err(|e| failed(io::Error::other(e)))?;
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp).map_err(failed)?;
        }
        Ok(MaybeTlsStream::Tls(Box::new(rustls::StreamOwned::new(
            conn, tcp,
        ))))
    })
}

/// TCP connect within the handshake timeout, `wrap` (TLS or not), the
/// WebSocket handshake; then clear the socket timeouts and arm the close
/// timeout hook.
fn connect_inner(
    url: &str,
    config: &ClientConfig,
    wrap: impl FnOnce(&Target, TcpStream) -> Result<MaybeTlsStream, Error>,
) -> Result<(WebSocket<MaybeTlsStream>, Response<()>), Error> {
    let target = Target::parse(url)?;
    let deadline = Instant::now() + config.handshake_timeout;
    let left = || {
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    };
    let addrs = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|e| HandshakeError::Url(format!("{url}: cannot resolve {}: {e}", target.host)))?;
    let mut last_err = None;
    let mut tcp = None;
    for addr in addrs {
        if Instant::now() >= deadline {
            return Err(HandshakeError::Timeout.into());
        }
        match TcpStream::connect_timeout(&addr, left()) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last_err = Some(e),
        }
    }
    let tcp = match (tcp, last_err) {
        (Some(t), _) => t,
        (None, Some(e)) if is_timeout(&e) => return Err(HandshakeError::Timeout.into()),
        (None, Some(e)) => return Err(HandshakeError::Io(e).into()),
        (None, None) => {
            return Err(HandshakeError::Url(format!(
                "{url}: {} resolves to no address",
                target.host
            ))
            .into())
        }
    };
    tcp.set_nodelay(true)?;
    tcp.set_read_timeout(Some(left()))?;
    tcp.set_write_timeout(Some(left()))?;
    let stream = wrap(&target, tcp)?;
    stream.get_ref().set_read_timeout(Some(left()))?;
    stream.get_ref().set_write_timeout(Some(left()))?;
    let (mut ws, resp) = client_handshake(stream, &target, config).map_err(|e| match e {
        Error::Io(e) | Error::Handshake(HandshakeError::Io(e)) if is_timeout(&e) => {
            HandshakeError::Timeout.into()
        }
        e => e,
    })?;
    ws.io.get_ref().set_read_timeout(None)?;
    ws.io.get_ref().set_write_timeout(None)?;
    ws.set_read_timeout = Some(MaybeTlsStream::set_read_timeout);
    ws.shutdown_write = Some(MaybeTlsStream::shutdown_write);
    Ok((ws, resp))
}

/// Run the client handshake over an already connected stream (TCP, TLS,
/// anything). Frames that arrive right behind the 101 are kept.
pub fn client_handshake<S: IoRead + Write>(
    mut stream: S,
    target: &Target,
    config: &ClientConfig,
) -> Result<(WebSocket<S>, Response<()>), Error> {
    let mut hs = ClientHandshake::new(target, config);
    stream.write_all(hs.request())?;
    stream.flush()?;
    let mut chunk = [0u8; 1024];
    let mut n = 0;
    loop {
        if let Some(done) = hs.feed(&chunk[..n])? {
            let (conn, leftover, response) = done.into_connection(config.websocket.clone());
            return Ok((WebSocket::from_connection(stream, conn, leftover), response));
        }
        n = match stream.read(&mut chunk) {
            Ok(0) => return Err(HandshakeError::Eof.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => return Err(HandshakeError::Io(e).into()),
        };
    }
}
