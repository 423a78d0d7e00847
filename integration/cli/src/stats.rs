//! Per-connection byte counters for the demo page's "bytes saved".
//!
//! A connection whose URL carries `?id=TOKEN` registers its counters under
//! that token while it is open; `GET /stats?id=TOKEN` returns them as JSON.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Counters of one connection.
#[derive(Debug, Default)]
pub struct ConnStats {
    /// Message payload bytes received (after decompression).
    pub payload_in: AtomicU64,
    /// Message payload bytes sent (before compression).
    pub payload_out: AtomicU64,
    /// Bytes read from the socket.
    pub wire_in: AtomicU64,
    /// Bytes written to the socket.
    pub wire_out: AtomicU64,
}

impl ConnStats {
    /// As a JSON object.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "payload_in": self.payload_in.load(Relaxed),
            "payload_out": self.payload_out.load(Relaxed),
            "wire_in": self.wire_in.load(Relaxed),
            "wire_out": self.wire_out.load(Relaxed),
        })
        .to_string()
    }
}

/// Open connections that asked to be counted, by token.
#[derive(Debug, Default, Clone)]
pub struct Registry(Arc<Mutex<HashMap<String, Arc<ConnStats>>>>);

/// Removes the entry when the connection ends.
pub struct Registration {
    registry: Registry,
    id: String,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut m) = self.registry.0.lock() {
            m.remove(&self.id);
        }
    }
}

/// Cap on simultaneously registered connections (each entry is tiny).
const MAX_ENTRIES: usize = 10_000;

impl Registry {
    /// Register `id` (a short token) for the life of the returned guard.
    pub fn register(&self, id: &str, stats: Arc<ConnStats>) -> Option<Registration> {
        if id.is_empty() || id.len() > 64 {
            return None;
        }
        let mut m = self.0.lock().ok()?;
        if m.len() >= MAX_ENTRIES {
            return None;
        }
        m.insert(id.to_owned(), stats);
        Some(Registration {
            registry: self.clone(),
            id: id.to_owned(),
        })
    }

    /// The counters of `id`, as JSON.
    pub fn json(&self, id: &str) -> Option<String> {
        self.0.lock().ok()?.get(id).map(|s| s.to_json())
    }
}

/// The value of `id=` in a query string.
pub fn query_id(query: Option<&str>) -> Option<&str> {
    query?.split('&').find_map(|kv| kv.strip_prefix("id="))
}

/// An I/O wrapper counting bytes in and out.
#[derive(Debug)]
pub struct Counted<S> {
    inner: S,
    stats: Arc<ConnStats>,
}

impl<S> Counted<S> {
    /// Count `inner`'s traffic into `stats`.
    pub fn new(inner: S, stats: Arc<ConnStats>) -> Self {
        Counted { inner, stats }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.stats.wire_in.fetch_add(n as u64, Relaxed);
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            self.stats.wire_out.fetch_add(n as u64, Relaxed);
        }
        r
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = r {
            self.stats.wire_out.fetch_add(n as u64, Relaxed);
        }
        r
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
