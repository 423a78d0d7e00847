//! [`ChannelIo`]: the in-memory transport under each logical channel's
//! [`crate::WebSocketStream`].
//!
//! The driver task of the physical connection writes every logical frame
//! the mux session delivers into the channel's read side, re-encoded as an
//! RFC 6455 frame, and parses the frames the channel's `WebSocketStream`
//! writes into its write side. Both sides are bounded:
//!
//! - read side: the driver grants the peer quota back (FlowControl) only
//!   when the bytes of a frame have been read from here, so what waits here
//!   is bounded by the channel's receive window (counted on the wire, i.e.
//!   before the channel's extensions were undone);
//! - write side: at most [`WRITE_BUFFER`] bytes; a full buffer makes
//!   `poll_write` wait until the driver has moved them into the session's
//!   per-channel send queue (itself bounded by
//!   [`ws_mux::MuxConfig::max_send_buffer`]).

use std::collections::{BTreeSet, VecDeque};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use ws_mux::ChannelId;

/// Bytes a channel's writer may hand over before it waits for the driver.
pub const WRITE_BUFFER: usize = 64 << 10;

/// Lock a mutex, recovering the data if another thread panicked with it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// How a side of a channel ended.
#[derive(Debug, Clone)]
pub(crate) enum End {
    /// Cleanly (closing handshake done).
    Eof,
    /// With an error (dropped, physical connection gone).
    Error(io::ErrorKind, String),
}

impl End {
    fn to_error(&self) -> io::Error {
        match self {
            End::Eof => io::Error::new(io::ErrorKind::BrokenPipe, "logical channel closed"),
            End::Error(kind, msg) => io::Error::new(*kind, msg.clone()),
        }
    }
}

/// State shared by a [`ChannelIo`] and the driver.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Encoded frames for the reader, with the quota each chunk is worth.
    pub inbound: VecDeque<(Bytes, u64)>,
    /// Read position in the front chunk.
    pub inbound_pos: usize,
    pub read_waker: Option<Waker>,
    /// Quota worth of frames read, not yet granted back by the driver.
    pub consumed: u64,
    /// Set when nothing more will be appended to `inbound`.
    pub read_end: Option<End>,
    /// Bytes written by the channel's stream, not yet taken by the driver.
    pub outbound: BytesMut,
    /// The tasks waiting to write: both halves of a split stream write
    /// (the reader half writes pongs and close replies), and any number of
    /// tasks may share a channel, so every waiting task keeps its waker
    /// (one entry per distinct waker; the list is emptied each time room
    /// frees up or the channel ends, so it never outgrows the tasks waiting
    /// at once). An earlier bounded list dropped the oldest waker when a
    /// fifth task waited: a lost wake-up.
    pub write_wakers: Vec<Waker>,
    /// Set when writes can no longer go anywhere.
    pub write_end: Option<End>,
    /// The application asked to drop the channel (code, reason).
    pub drop_request: Option<(u16, String)>,
    /// The [`ChannelIo`] was dropped.
    pub handle_dropped: bool,
}

impl Shared {
    /// Queue an encoded chunk for the reader.
    pub fn push_inbound(&mut self, chunk: Bytes, cost: u64) {
        if self.read_end.is_some() {
            return;
        }
        if chunk.is_empty() {
            self.consumed += cost;
        } else {
            self.inbound.push_back((chunk, cost));
        }
        if let Some(w) = self.read_waker.take() {
            w.wake();
        }
    }

    /// End both sides (the read side after what is queued).
    pub fn end(&mut self, end: End) {
        if self.read_end.is_none() {
            self.read_end = Some(end.clone());
        }
        if self.write_end.is_none() {
            self.write_end = Some(end);
        }
        self.outbound.clear();
        if let Some(w) = self.read_waker.take() {
            w.wake();
        }
        self.wake_writers();
    }

    /// Wake every task waiting to write.
    pub fn wake_writers(&mut self) {
        for w in self.write_wakers.drain(..) {
            w.wake();
        }
    }

    fn add_write_waker(&mut self, waker: &Waker) {
        if self.write_wakers.iter().any(|w| w.will_wake(waker)) {
            return;
        }
        self.write_wakers.push(waker.clone());
    }
}

/// Which channels need the driver's attention, and the driver's waker.
#[derive(Debug, Default)]
pub(crate) struct DriverWake {
    inner: Mutex<(BTreeSet<ChannelId>, Option<Waker>)>,
}

impl DriverWake {
    /// Mark `id` and wake the driver.
    pub fn mark(&self, id: ChannelId) {
        let waker = {
            let mut g = lock(&self.inner);
            g.0.insert(id);
            g.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Take the marked channels; if there are none, store `waker`.
    pub fn take_or_register(&self, waker: Option<&Waker>) -> BTreeSet<ChannelId> {
        let mut g = lock(&self.inner);
        if g.0.is_empty() {
            if let Some(w) = waker {
                g.1 = Some(w.clone());
            }
        }
        std::mem::take(&mut g.0)
    }
}

/// What was negotiated for a logical channel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelInfo {
    /// The channel ID on the physical connection (1: the implicit channel).
    pub id: ChannelId,
    /// The request target of the channel's opening handshake (`/chat`).
    pub path: String,
    /// The channel's extensions (run by the mux session, per channel), in
    /// response order.
    pub extensions: Vec<String>,
    /// The subprotocol chosen for the channel.
    pub protocol: Option<String>,
}

/// The transport of one logical channel: `AsyncRead + AsyncWrite` carrying
/// RFC 6455 frames to and from the physical connection's driver task. A
/// logical channel is a `WebSocketStream<ChannelIo>` ([`super::MuxChannel`]),
/// so it is used exactly like a plain connection; reach this value with
/// [`crate::WebSocketStream::get_ref`] for the channel's
/// [`ChannelIo::info`] or to [`ChannelIo::drop_channel`] it.
///
/// Dropping it without a finished closing handshake drops the channel
/// (DropChannel 1000) and leaves the other channels alone.
#[derive(Debug)]
pub struct ChannelIo {
    info: ChannelInfo,
    shared: Arc<Mutex<Shared>>,
    wake: Arc<DriverWake>,
}

impl ChannelIo {
    pub(crate) fn new(
        info: ChannelInfo,
        shared: Arc<Mutex<Shared>>,
        wake: Arc<DriverWake>,
    ) -> Self {
        ChannelIo { info, shared, wake }
    }

    /// The channel's ID, path, extensions and subprotocol.
    pub fn info(&self) -> &ChannelInfo {
        &self.info
    }

    /// The channel ID.
    pub fn id(&self) -> ChannelId {
        self.info.id
    }

    /// Drop the channel now (DropChannel with `code` and `reason`, no
    /// closing handshake); the other channels go on. Reads and writes fail
    /// afterwards. Codes: 1000 normal, 3000–3999 channel failures, 4000+
    /// application codes.
    pub fn drop_channel(&self, code: u16, reason: &str) {
        {
            let mut s = lock(&self.shared);
            if s.write_end.is_some() {
                return;
            }
            s.drop_request = Some((code, reason.to_owned()));
        }
        self.wake.mark(self.info.id);
    }

    /// Payload bytes received and not yet read by the stream.
    pub fn buffered_inbound(&self) -> usize {
        let s = lock(&self.shared);
        s.inbound.iter().map(|(b, _)| b.len()).sum::<usize>() - s.inbound_pos
    }
}

impl Drop for ChannelIo {
    fn drop(&mut self) {
        lock(&self.shared).handle_dropped = true;
        self.wake.mark(self.info.id);
    }
}

impl AsyncRead for ChannelIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut released = false;
        let result = {
            let mut s = lock(&self.shared);
            let mut copied = 0;
            while buf.remaining() > 0 {
                let pos = s.inbound_pos;
                let Some((chunk, cost)) = s.inbound.front() else {
                    break;
                };
                let n = (chunk.len() - pos).min(buf.remaining());
                buf.put_slice(&chunk[pos..pos + n]);
                copied += n;
                if pos + n == chunk.len() {
                    let cost = *cost;
                    s.inbound.pop_front();
                    s.inbound_pos = 0;
                    if cost > 0 {
                        s.consumed += cost;
                        released = true;
                    }
                } else {
                    s.inbound_pos = pos + n;
                }
            }
            if copied > 0 {
                Poll::Ready(Ok(()))
            } else {
                match &s.read_end {
                    Some(End::Eof) => Poll::Ready(Ok(())),
                    Some(e) => Poll::Ready(Err(e.to_error())),
                    None => {
                        s.read_waker = Some(cx.waker().clone());
                        Poll::Pending
                    }
                }
            }
        };
        if released {
            self.wake.mark(self.info.id);
        }
        result
    }
}

impl AsyncWrite for ChannelIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let n = {
            let mut s = lock(&self.shared);
            if let Some(e) = &s.write_end {
                return Poll::Ready(Err(e.to_error()));
            }
            let room = WRITE_BUFFER.saturating_sub(s.outbound.len());
            if room == 0 {
                s.add_write_waker(cx.waker());
                0
            } else {
                let n = room.min(buf.len());
                s.outbound.extend_from_slice(&buf[..n]);
                n
            }
        };
        self.wake.mark(self.info.id);
        if n == 0 && !buf.is_empty() {
            Poll::Pending
        } else {
            Poll::Ready(Ok(n))
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let s = lock(&self.shared);
        match &s.write_end {
            Some(End::Error(kind, msg)) => Poll::Ready(Err(io::Error::new(*kind, msg.clone()))),
            _ => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Many writers waiting on one channel are all woken when room frees
    /// up (none is forgotten), each once, and a writer polling again with
    /// the same waker is not listed twice.
    #[test]
    fn every_waiting_writer_is_woken() {
        let mut s = Shared::default();
        let counts: Vec<Arc<Count>> = (0..32)
            .map(|_| Arc::new(Count(AtomicUsize::new(0))))
            .collect();
        let wakers: Vec<Waker> = counts.iter().map(|c| Waker::from(c.clone())).collect();
        for w in &wakers {
            s.add_write_waker(w);
            s.add_write_waker(w);
        }
        assert_eq!(s.write_wakers.len(), 32);
        s.wake_writers();
        assert!(s.write_wakers.is_empty());
        for (i, c) in counts.iter().enumerate() {
            assert_eq!(c.0.load(Ordering::SeqCst), 1, "writer {i}");
        }
    }
}
