//! [`WebSocketStream`]: wsx's connection with tokio-tungstenite's type,
//! methods and error type.

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::BytesMut;
use futures_util::sink::{Sink, SinkExt};
use futures_util::stream::{FusedStream, Stream};
use tokio::io::{AsyncRead, AsyncWrite};
use tungstenite::error::Error as WsError;
use tungstenite::protocol::{CloseFrame, Message, Role, WebSocketConfig};
use ws_ext_core::ExtensionStack;

use crate::error::from_wsx;

/// A WebSocket connection over `S` whose opening handshake is done: a
/// [`Stream`] of incoming [`Message`]s and a [`Sink`] for outgoing ones,
/// with tungstenite's error type, as in tokio-tungstenite.
///
/// The protocol runs on wsx: permessage-deflate, when the handshake
/// negotiated it, compresses and decompresses messages transparently.
///
/// Like tokio-tungstenite's, the stream ends (`None`) once the closing
/// handshake is done, and yields a failure once before ending. Keep
/// polling it after sending a close so that the closing handshake can
/// finish.
#[derive(Debug)]
pub struct WebSocketStream<S> {
    inner: wsx::WebSocketStream<S>,
    config: WebSocketConfig,
    ended: bool,
}

/// tungstenite's limits as wsx's: no limit (`None`) is `usize::MAX`.
pub(crate) fn wsx_config(config: &WebSocketConfig) -> wsx::WebSocketConfig {
    wsx::WebSocketConfig::default()
        .with_max_message_size(config.max_message_size.unwrap_or(usize::MAX))
        .with_max_frame_size(config.max_frame_size.unwrap_or(usize::MAX))
        .with_write_buffer_size(config.write_buffer_size)
}

impl<S> WebSocketStream<S> {
    pub(crate) fn new(inner: wsx::WebSocketStream<S>, config: WebSocketConfig) -> Self {
        WebSocketStream {
            inner,
            config,
            ended: false,
        }
    }

    /// Wrap a stream whose opening handshake was done elsewhere, with no
    /// extension (nothing was negotiated).
    pub async fn from_raw_socket(stream: S, role: Role, config: Option<WebSocketConfig>) -> Self
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        Self::from_partially_read(stream, Vec::new(), role, config).await
    }

    /// Like [`WebSocketStream::from_raw_socket`], with bytes already read
    /// from the stream past the handshake (`part`), which are read first.
    pub async fn from_partially_read(
        stream: S,
        part: Vec<u8>,
        role: Role,
        config: Option<WebSocketConfig>,
    ) -> Self
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let config = config.unwrap_or_default();
        let role = match role {
            Role::Server => wsx::Role::Server,
            Role::Client => wsx::Role::Client,
        };
        let inner = wsx::WebSocketStream::from_parts(
            stream,
            role,
            ExtensionStack::default(),
            None,
            wsx_config(&config),
            BytesMut::from(&part[..]),
        );
        Self::new(inner, config)
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        self.inner.get_ref()
    }

    /// The underlying stream, mutably (writing to it corrupts the
    /// connection).
    pub fn get_mut(&mut self) -> &mut S
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        self.inner.get_mut()
    }

    /// The configuration this connection was opened with.
    pub fn get_config(&self) -> &WebSocketConfig {
        &self.config
    }

    /// The negotiated `Sec-WebSocket-Extensions` (for example
    /// `permessage-deflate`), `None` without extension. Not in
    /// tokio-tungstenite.
    pub fn extensions(&self) -> Option<&str> {
        self.inner.extensions()
    }

    /// The negotiated subprotocol. Not in tokio-tungstenite.
    pub fn protocol(&self) -> Option<&str> {
        self.inner.protocol()
    }

    /// The wsx connection underneath (buffered amount, ready state,
    /// hibernation). Not in tokio-tungstenite.
    pub fn as_wsx(&self) -> &wsx::WebSocketStream<S> {
        &self.inner
    }

    /// Send a close frame (with `msg`, or none) and flush it. Keep reading
    /// the stream to finish the closing handshake.
    pub async fn close(&mut self, msg: Option<CloseFrame>) -> Result<(), WsError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        self.send(Message::Close(msg)).await
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WebSocketStream<S> {
    type Item = Result<Message, WsError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match ready!(Pin::new(&mut self.inner).poll_next(cx)) {
            Some(Ok(m)) => Poll::Ready(Some(Ok(m))),
            None => {
                self.ended = true;
                Poll::Ready(None)
            }
            Some(Err(e)) => {
                self.ended = true;
                match from_wsx(e) {
                    WsError::AlreadyClosed | WsError::ConnectionClosed => Poll::Ready(None),
                    e => Poll::Ready(Some(Err(e))),
                }
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> FusedStream for WebSocketStream<S> {
    fn is_terminated(&self) -> bool {
        self.ended
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WebSocketStream<S> {
    type Error = WsError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        Pin::new(&mut self.inner).poll_ready(cx).map_err(from_wsx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), WsError> {
        Pin::new(&mut self.inner).start_send(item).map_err(from_wsx)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        Pin::new(&mut self.inner).poll_flush(cx).map_err(from_wsx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        // As tokio-tungstenite: closing a closed connection is not an error.
        match ready!(Pin::new(&mut self.inner).poll_close(cx)) {
            Ok(()) | Err(wsx::Error::ConnectionClosed) => Poll::Ready(Ok(())),
            Err(e) => Poll::Ready(Err(from_wsx(e))),
        }
    }
}
