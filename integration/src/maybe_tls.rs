//! [`MaybeTlsStream`]: a connection that is plain TCP or TLS, what
//! [`crate::connect`] returns for `ws://` and `wss://` URLs alike.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A connection that is either plain or TLS (client or server side). Reads
/// and writes pass straight through.
///
/// Without the `tls` feature only [`MaybeTlsStream::Plain`] exists.
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTlsStream<S> {
    /// `ws://`.
    Plain(S),
    /// `wss://`.
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::TlsStream<S>>),
}

impl<S> MaybeTlsStream<S> {
    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        match self {
            MaybeTlsStream::Plain(_) => false,
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(_) => true,
        }
    }

    /// The underlying transport (TCP).
    pub fn get_ref(&self) -> &S {
        match self {
            MaybeTlsStream::Plain(s) => s,
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(t) => t.get_ref().0,
        }
    }
}

#[cfg(feature = "tls")]
impl<S> From<tokio_rustls::client::TlsStream<S>> for MaybeTlsStream<S> {
    fn from(s: tokio_rustls::client::TlsStream<S>) -> Self {
        MaybeTlsStream::Tls(Box::new(s.into()))
    }
}

#[cfg(feature = "tls")]
impl<S> From<tokio_rustls::server::TlsStream<S>> for MaybeTlsStream<S> {
    fn from(s: tokio_rustls::server::TlsStream<S>) -> Self {
        MaybeTlsStream::Tls(Box::new(s.into()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for MaybeTlsStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(t) => Pin::new(t.as_mut()).poll_read(cx, buf),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for MaybeTlsStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(t) => Pin::new(t.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(t) => Pin::new(t.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            MaybeTlsStream::Plain(s) => s.is_write_vectored(),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(t) => t.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(t) => Pin::new(t.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(t) => Pin::new(t.as_mut()).poll_shutdown(cx),
        }
    }
}
