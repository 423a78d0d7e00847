//! Server entry points over tokio: read the request, answer it, wrap the
//! connection.

use bytes::BytesMut;
use http::Request;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::config::ServerConfig;
use crate::error::{Error, HandshakeError};
use crate::proto::handshake::server::{self, Rejection, ServerHandshake};
use crate::stream::WebSocketStream;

/// Accept a WebSocket connection with the default [`ServerConfig`] (no
/// extension, no subprotocol).
///
/// ```no_run
/// # async fn run() -> Result<(), wsx::Error> {
/// use futures_util::{SinkExt, StreamExt};
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let (tcp, _) = listener.accept().await?;
/// let mut ws = wsx::accept(tcp).await?;
/// while let Some(msg) = ws.next().await {
///     let msg = msg?;
///     if msg.is_text() || msg.is_binary() {
///         ws.send(msg).await?;
///     }
/// }
/// # Ok(()) }
/// ```
pub async fn accept<S>(stream: S) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accept_with(stream, &ServerConfig::default()).await
}

/// Accept a WebSocket connection: read and validate the request within the
/// handshake timeout, answer 101 (or the matching 4xx, then close).
pub async fn accept_with<S>(
    mut stream: S,
    config: &ServerConfig,
) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let deadline = tokio::time::Instant::now() + config.handshake_timeout;
    let read =
        tokio::time::timeout_at(deadline, read_request(&mut stream, config.max_header_bytes)).await;
    let (req, leftover) = match read {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return Err(reject(stream, e).await),
        Err(_) => return Err(reject(stream, HandshakeError::Timeout).await),
    };
    match tokio::time::timeout_at(deadline, accept_request(stream, &req, leftover, config)).await {
        Ok(r) => r,
        Err(_) => Err(HandshakeError::Timeout.into()),
    }
}

/// Read one HTTP request head. Returns the request and any bytes read past
/// its end. Does not answer errors (see [`reject`]).
pub async fn read_request<S>(
    stream: &mut S,
    max_header_bytes: usize,
) -> Result<(Request<()>, BytesMut), HandshakeError>
where
    S: AsyncRead + Unpin,
{
    let mut hs = ServerHandshake::new(max_header_bytes);
    loop {
        if let Some(r) = hs.poll()? {
            return Ok(r);
        }
        if stream.read_buf(hs.buffer_mut()).await? == 0 {
            return Err(HandshakeError::Eof);
        }
    }
}

/// Answer a failed handshake with its HTTP status and reason (best effort),
/// close the connection, and return the error.
pub async fn reject<S>(stream: S, err: HandshakeError) -> Error
where
    S: AsyncWrite + Unpin,
{
    send_rejection(stream, ServerHandshake::reject(err)).await
}

/// Write a rejection's answer (if any), close, and give its error.
pub(crate) async fn send_rejection<S>(mut stream: S, rejection: Rejection) -> Error
where
    S: AsyncWrite + Unpin,
{
    if let Some(answer) = rejection.response {
        let _ = stream.write_all(&answer).await;
        let _ = stream.shutdown().await;
    }
    Error::Handshake(rejection.error)
}

/// Finish a handshake whose request was already read (for example by a
/// server that also serves plain HTTP on the same port): validate it,
/// negotiate, answer, and wrap the connection. `leftover` holds the bytes
/// read past the request head.
pub async fn accept_request<S>(
    mut stream: S,
    req: &Request<()>,
    leftover: BytesMut,
    config: &ServerConfig,
) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (head, done) = match ServerHandshake::accept(req, leftover, config) {
        Ok(r) => r,
        Err(rejection) => return Err(send_rejection(stream, rejection).await),
    };
    stream.write_all(&head).await?;
    stream.flush().await?;
    let (conn, leftover, _) = done.into_connection(config.websocket.clone());
    Ok(WebSocketStream::from_connection(stream, conn, leftover))
}

/// For a framework that does the HTTP upgrade itself (hyper, axum):
/// validate the request and negotiate. Send `accepted.response`'s status
/// and headers as the 101, then wrap the upgraded connection with
/// [`WebSocketStream::from_upgraded`].
pub fn negotiate_upgrade(
    req: &Request<()>,
    config: &ServerConfig,
) -> Result<server::Accepted, HandshakeError> {
    server::accept(req, config)
}
