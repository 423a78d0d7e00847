//! The tokio adapter: [`WebSocketStream`], a `Stream` of messages and a
//! `Sink` of messages over any `AsyncRead + AsyncWrite`.
//!
//! ## Splitting
//! `futures_util::StreamExt::split` gives a reader half and a writer half
//! that can live in two tasks. Both halves share the one value through the
//! `BiLock` that `split` uses; the lock is held only for the duration of a
//! single `poll`, never across an await or a blocked socket. Control replies
//! the reader produces (the automatic pong, the close reply, the close frame
//! of a failed connection) are encoded into the same write queue as the
//! writer's messages — always between whole messages, since every message is
//! encoded as one unit — and the reader writes that queue out itself when it
//! polls, so pongs and close replies go out even when the writer half is
//! idle. Extension state needs no lock of its own: the send half of the
//! extension stack is only touched by encoding and the receive half only by
//! decoding.

use std::future::Future;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll, Wake, Waker};

use bytes::BytesMut;
use futures_core::Stream;
use futures_sink::Sink;
use futures_util::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;
use tracing::debug;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::Message;
use ws_ext_core::ExtensionStack;

use crate::config::WebSocketConfig;
use crate::error::Error;
use crate::proto::connection::{connection_accessors, Connection, Keepalive, Received};
use crate::proto::prepared::PreparedMessage;
use crate::proto::readbuf::{read_step, READ_CHUNK};
pub use crate::proto::ReadyState;
use crate::proto::{close, Role};

/// Socket write readiness wakes both halves: after `split`, the reader
/// (writing pongs and close replies) and the writer may both wait for the
/// socket to become writable, and a socket keeps only one waker per
/// direction. Without this, one half's registration would silently replace
/// the other's and that half could sleep forever.
#[derive(Debug, Default)]
struct WriteWakers {
    reader: AtomicWaker,
    writer: AtomicWaker,
}

impl Wake for WriteWakers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.reader.wake();
        self.writer.wake();
    }
}

const MAX_IOSLICES: usize = 32;

/// A WebSocket connection over `S`: a [`Stream`] of received
/// [`Message`]s and a [`Sink`] of messages to send.
///
/// Receiving answers pings with pongs and close frames with close frames on
/// its own; the received `Ping`, `Pong` and `Close` are still yielded for
/// information. After the closing handshake, the stream ends (`None`). A
/// protocol violation by the peer sends the matching close code, finishes
/// the closing handshake, then yields the error once and ends.
///
/// The stream must be polled for the closing handshake to finish, also after
/// a close is sent through the sink.
#[derive(Debug)]
pub struct WebSocketStream<S> {
    io: S,
    conn: Connection,
    read_buf: BytesMut,
    close_timer: Option<Pin<Box<Sleep>>>,
    shutdown: bool,
    write_wakers: Arc<WriteWakers>,
    /// Wakes us at the keepalive deadline (with `idle_timeout`).
    idle_timer: Option<Pin<Box<Sleep>>>,
    /// Context hibernation (with `hibernate_after` and extensions): when a
    /// message last went either way, whether the extensions hibernated
    /// since, and the timer (dropped while hibernated).
    last_active: tokio::time::Instant,
    hibernated: bool,
    hibernate_timer: Option<Pin<Box<Sleep>>>,
}

impl<S> WebSocketStream<S> {
    /// What a broadcast group needs to serve this connection from a
    /// cohort ([`crate::broadcast::Subscription::attach`]).
    pub(crate) fn cohort_ticket(
        &mut self,
        seat: std::sync::Arc<crate::proto::cohort::Seat>,
    ) -> Option<(ws_ext_core::EncodingKey, ws_ext_core::SendStack)> {
        self.conn.send.cohort_ticket(seat)
    }

    /// Wrap a connection whose opening handshake is already done (by us, or
    /// by hyper/axum: pass the negotiated extensions and subprotocol). Bytes
    /// that were read past the end of the handshake go in `leftover`.
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

    pub(crate) fn from_connection(io: S, conn: Connection, leftover: BytesMut) -> Self {
        // Keep the handshake's read buffer only if it holds frame bytes.
        let read_buf = if leftover.is_empty() {
            BytesMut::new()
        } else {
            leftover
        };
        WebSocketStream {
            io,
            conn,
            read_buf,
            close_timer: None,
            shutdown: false,
            write_wakers: Arc::default(),
            idle_timer: None,
            last_active: tokio::time::Instant::now(),
            hibernated: false,
            hibernate_timer: None,
        }
    }

    /// Wrap an already upgraded server-side connection (hyper, axum): the
    /// 101 was sent by the framework with the headers from
    /// [`crate::negotiate_upgrade`], whose result is passed here.
    pub fn from_upgraded(
        io: S,
        accepted: crate::proto::handshake::server::Accepted,
        config: WebSocketConfig,
    ) -> Self {
        Self::from_parts(
            io,
            Role::Server,
            accepted.extensions,
            accepted.protocol,
            config,
            BytesMut::new(),
        )
    }

    connection_accessors!();
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocketStream<S> {
    /// Read more bytes into `read_buf`; `need` is the receiver's hint of how
    /// many more the frame in progress needs. `Ok(0)` is EOF.
    ///
    /// With nothing buffered (the connection is between messages), the read
    /// goes to a buffer on the stack and the connection's own read buffer is
    /// released while it waits, so an idle connection holds none; what
    /// arrives is copied into a buffer of its size (or into the spare room
    /// of the current one). A frame in progress is read in place, in steps
    /// that double with what arrived, up to what it still needs
    /// ([`read_step`], shared with the blocking adapter), so a large
    /// message is read in large steps without trusting its announced
    /// length up front.
    /// With `keep` false (input is being discarded) the bytes are dropped.
    fn poll_fill(
        &mut self,
        cx: &mut Context<'_>,
        need: usize,
        keep: bool,
    ) -> Poll<io::Result<usize>> {
        if self.read_buf.is_empty() || !keep {
            let mut stack = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
            let mut rb = ReadBuf::uninit(&mut stack);
            match Pin::new(&mut self.io).poll_read(cx, &mut rb) {
                Poll::Pending => {
                    if self.read_buf.is_empty() && self.read_buf.capacity() > 0 {
                        self.read_buf = BytesMut::new();
                    }
                    Poll::Pending
                }
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {
                    let got = rb.filled();
                    if keep {
                        if self.read_buf.capacity() < got.len() {
                            self.read_buf = BytesMut::with_capacity(got.len());
                        }
                        self.read_buf.extend_from_slice(got);
                    }
                    Poll::Ready(Ok(got.len()))
                }
            }
        } else {
            // Grow toward a large frame step by step, as its bytes arrive,
            // instead of trusting the announced length up front.
            self.read_buf.reserve(read_step(need, self.read_buf.len()));
            tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, &mut self.read_buf)
        }
    }

    /// Write out the queue (vectored when the socket supports it).
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.conn.out.is_empty() {
            let n = if self.io.is_write_vectored() {
                let mut slices = [IoSlice::new(&[]); MAX_IOSLICES];
                let k = self.conn.out.io_slices(&mut slices);
                ready!(Pin::new(&mut self.io).poll_write_vectored(cx, &slices[..k]))?
            } else {
                ready!(Pin::new(&mut self.io).poll_write(cx, self.conn.out.first_slice()))?
            };
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.conn.out.advance(n);
        }
        Poll::Ready(Ok(()))
    }

    fn poll_flush_all(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_write_out(cx))?;
        Pin::new(&mut self.io).poll_flush(cx)
    }

    /// Keepalive: act when the peer has been silent for the idle timeout
    /// (`true`: the connection queued a ping or aborted; go round again),
    /// else make sure the timer will wake us at the deadline.
    fn poll_keepalive(&mut self, cx: &mut Context<'_>) -> bool {
        let now = || tokio::time::Instant::now().into_std();
        let deadline = match self.conn.poll_keepalive(now) {
            Keepalive::Off => return false,
            Keepalive::Acted => return true,
            Keepalive::Wait(d) => tokio::time::Instant::from_std(d),
        };
        // The timer is not moved on every read (the deadline moves with
        // each input): when it fires before the deadline, it is re-armed.
        let timer = self
            .idle_timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() > deadline {
            timer.as_mut().reset(deadline);
        }
        while timer.as_mut().poll(cx).is_ready() {
            if timer.deadline() >= deadline {
                // Due: the next poll_keepalive acts.
                return true;
            }
            timer.as_mut().reset(deadline);
        }
        false
    }

    fn arm_close_timer(&mut self) {
        if self.close_timer.is_none() {
            self.close_timer = Some(Box::pin(tokio::time::sleep(self.conn.config.close_timeout)));
        }
    }

    /// A message went one way or the other: the connection is busy.
    fn note_activity(&mut self) {
        if self.conn.has_extensions && self.conn.config.hibernate_after.is_some() {
            self.last_active = tokio::time::Instant::now();
            self.hibernated = false;
        }
    }

    /// Waiting for input: hibernate the extensions once the connection has
    /// been quiet for `hibernate_after`, else make sure a timer will wake
    /// us when it has.
    fn poll_hibernate(&mut self, cx: &mut Context<'_>) {
        let Some(after) = self.conn.config.hibernate_after else {
            return;
        };
        if self.hibernated || !self.conn.has_extensions || self.conn.is_closing() {
            return;
        }
        // The timer is not moved on every message (re-arming it costs a
        // timer-wheel update): when it fires early because messages came
        // since, it is re-armed once to the new deadline.
        let timer = self
            .hibernate_timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(self.last_active + after)));
        loop {
            if timer.as_mut().poll(cx).is_pending() {
                return;
            }
            let deadline = self.last_active + after;
            if deadline > timer.deadline() {
                timer.as_mut().reset(deadline);
                continue;
            }
            debug!("connection quiet: hibernating its extensions");
            self.conn.hibernate();
            self.hibernated = true;
            self.hibernate_timer = None;
            return;
        }
    }

    fn finish(&mut self) -> Option<Result<Message, Error>> {
        self.conn.terminate().map(Err)
    }

    /// Wind down after the closing handshake or a failure: flush, then the
    /// server closes TCP first; the client waits for the server to (RFC 6455
    /// §7.1.1), up to the close timeout.
    fn poll_wind_down(
        &mut self,
        cx: &mut Context<'_>,
        wcx: &mut Context<'_>,
    ) -> Poll<Option<Result<Message, Error>>> {
        if let Err(e) = ready!(self.poll_flush_all(wcx)) {
            debug!(error = %e, "write failed while closing");
            return Poll::Ready(self.finish());
        }
        if self.conn.awaits_peer_eof() {
            self.arm_close_timer();
            loop {
                if let Some(t) = self.close_timer.as_mut() {
                    if t.as_mut().poll(cx).is_ready() {
                        debug!("server did not close the connection in time");
                        break;
                    }
                }
                self.read_buf = BytesMut::new();
                match ready!(self.poll_fill(cx, 0, false)) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => continue,
                }
            }
            self.conn.read_done = true;
        }
        if !self.shutdown {
            let _ = ready!(Pin::new(&mut self.io).poll_shutdown(wcx));
            self.shutdown = true;
        }
        Poll::Ready(self.finish())
    }
}

/// Broadcast: prepared messages ([`PreparedMessage`]).
impl<S: AsyncRead + AsyncWrite + Unpin> WebSocketStream<S> {
    /// Queue a prepared message without waiting (as `Sink::start_send`:
    /// the bytes go out on the next flush, or as the stream is polled).
    /// On a server whose send stack can share, this queues the frame
    /// encoded once for every connection with the same key; otherwise the
    /// message is encoded for this connection. `Ok(true)`: shared.
    pub fn queue_prepared(&mut self, msg: &PreparedMessage) -> Result<bool, Error> {
        self.note_activity();
        self.conn.out.set_vectored(self.io.is_write_vectored());
        self.conn.encode_prepared(msg)
    }

    /// Send a prepared message: wait while the write queue is full, queue
    /// it ([`WebSocketStream::queue_prepared`]), flush. `Ok(true)`: the
    /// shared frame was written.
    pub async fn send_prepared(&mut self, msg: &PreparedMessage) -> Result<bool, Error> {
        std::future::poll_fn(|cx| Sink::<Message>::poll_ready(Pin::new(&mut *self), cx)).await?;
        let shared = self.queue_prepared(msg)?;
        std::future::poll_fn(|cx| Sink::<Message>::poll_flush(Pin::new(&mut *self), cx)).await?;
        Ok(shared)
    }

    /// Whether prepared messages sent on this connection share their
    /// encoding with other connections (a server whose extensions keep no
    /// state across messages), and under which key.
    pub fn shared_key(&self) -> Option<ws_ext_core::EncodingKey> {
        self.conn.send.shared_key()
    }
}

impl<S> WebSocketStream<S> {
    /// The connection's settings.
    pub(crate) fn config(&self) -> &WebSocketConfig {
        &self.conn.config
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WebSocketStream<S> {
    type Item = Result<Message, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.conn.terminated {
            return Poll::Ready(None);
        }
        this.write_wakers.reader.register(cx.waker());
        let waker = Waker::from(this.write_wakers.clone());
        let wcx = &mut Context::from_waker(&waker);
        loop {
            if !this.conn.out.is_empty() {
                match this.poll_write_out(wcx) {
                    Poll::Ready(Err(e)) => {
                        return Poll::Ready(Some(Err(this.conn.terminate().unwrap_or(e.into()))));
                    }
                    // Backpressure: a peer that floods pings without reading
                    // our pongs is not read from until they drain.
                    Poll::Pending if this.conn.out.len() >= this.conn.config.write_buffer_size => {
                        return Poll::Pending
                    }
                    _ => {}
                }
            }
            if this.conn.should_wind_down() {
                return this.poll_wind_down(cx, wcx);
            }
            let need = if this.conn.discard_input {
                // Our close frame, then FIN at once; read only to see EOF
                // (closing with unread input would reset the connection
                // and could destroy the close frame in flight).
                if !this.shutdown {
                    if let Err(e) = ready!(this.poll_flush_all(wcx)) {
                        debug!(error = %e, "write failed while closing");
                        return Poll::Ready(this.finish());
                    }
                    let _ = ready!(Pin::new(&mut this.io).poll_shutdown(wcx));
                    this.shutdown = true;
                }
                this.read_buf = BytesMut::new();
                0
            } else {
                match this.conn.receive(&mut this.read_buf) {
                    Received::NeedMore(n) => n,
                    Received::Message(msg, replied) => {
                        this.note_activity();
                        if replied {
                            let _ = this.poll_write_out(wcx);
                        }
                        return Poll::Ready(Some(Ok(msg)));
                    }
                    Received::Failed | Received::Drained => continue,
                }
            };
            this.poll_hibernate(cx);
            if this.poll_keepalive(cx) {
                continue;
            }
            if this.conn.close_sent {
                this.arm_close_timer();
                if let Some(t) = this.close_timer.as_mut() {
                    if t.as_mut().poll(cx).is_ready() {
                        debug!("peer did not answer the close frame in time");
                        this.conn.read_done = true;
                        continue;
                    }
                }
            }
            let keep = !this.conn.discard_input;
            match ready!(this.poll_fill(cx, need, keep)) {
                Ok(0) => {
                    if let Err(e) = this.conn.on_eof() {
                        return Poll::Ready(Some(Err(e)));
                    }
                }
                Ok(_) => this
                    .conn
                    .input_received(|| tokio::time::Instant::now().into_std()),
                Err(e) => {
                    return Poll::Ready(Some(Err(this.conn.terminate().unwrap_or(e.into()))));
                }
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WebSocketStream<S> {
    type Error = Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = &mut *self;
        if this.conn.terminated {
            return Poll::Ready(Err(Error::ConnectionClosed));
        }
        if this.conn.out.len() >= this.conn.config.write_buffer_size {
            this.write_wakers.writer.register(cx.waker());
            let waker = Waker::from(this.write_wakers.clone());
            ready!(this.poll_write_out(&mut Context::from_waker(&waker)))?;
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        let this = &mut *self;
        this.note_activity();
        this.conn.out.set_vectored(this.io.is_write_vectored());
        this.conn.encode(item)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = &mut *self;
        if this.conn.out.is_empty() && this.shutdown {
            return Poll::Ready(Ok(()));
        }
        this.write_wakers.writer.register(cx.waker());
        let waker = Waker::from(this.write_wakers.clone());
        ready!(this.poll_flush_all(&mut Context::from_waker(&waker)))?;
        Poll::Ready(Ok(()))
    }

    /// Send a close frame (1000) unless one was sent, and flush. Keep
    /// polling the stream to finish the closing handshake.
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = &mut *self;
        if !this.conn.terminated {
            this.conn
                .queue_close(Some(close::frame(CloseCode::Normal, "")));
        }
        if this.shutdown {
            return Poll::Ready(Ok(()));
        }
        this.write_wakers.writer.register(cx.waker());
        let waker = Waker::from(this.write_wakers.clone());
        ready!(this.poll_flush_all(&mut Context::from_waker(&waker)))?;
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use futures_util::{FutureExt, SinkExt, StreamExt};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use ws_ext_core::{Frame, OpCode};

    use crate::config::WebSocketConfig;
    use crate::proto::send::encode_raw;

    /// A stream that records the largest read buffer it was offered.
    struct Probe<S> {
        io: S,
        largest_read: usize,
    }

    impl<S: AsyncRead + Unpin> AsyncRead for Probe<S> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            self.largest_read = self.largest_read.max(buf.remaining());
            Pin::new(&mut self.io).poll_read(cx, buf)
        }
    }

    impl<S: AsyncWrite + Unpin> AsyncWrite for Probe<S> {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.io).poll_write(cx, buf)
        }
        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
        }
        fn is_write_vectored(&self) -> bool {
            self.io.is_write_vectored()
        }
        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.io).poll_flush(cx)
        }
        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.io).poll_shutdown(cx)
        }
    }

    /// A server-side stream over loopback TCP (vectored writes) and the raw
    /// client socket.
    async fn pair() -> (WebSocketStream<Probe<TcpStream>>, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let io = Probe {
            io: server,
            largest_read: 0,
        };
        let ws = WebSocketStream::from_parts(
            io,
            Role::Server,
            ExtensionStack::default(),
            None,
            WebSocketConfig::default(),
            BytesMut::new(),
        );
        (ws, client)
    }

    fn client_frame(opcode: OpCode, payload: &[u8]) -> BytesMut {
        let frame = Frame::new(true, opcode, Bytes::copy_from_slice(payload));
        encode_raw(&frame, Some([0x12, 0x34, 0x56, 0x78]))
    }

    fn server_frame(opcode: OpCode, payload: &[u8]) -> BytesMut {
        encode_raw(
            &Frame::new(true, opcode, Bytes::copy_from_slice(payload)),
            None,
        )
    }

    /// Nothing to read: the stream is pending, and holds no buffers.
    fn assert_idle_and_empty<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>) {
        assert!(
            ws.next().now_or_never().is_none(),
            "nothing should be ready"
        );
        assert_eq!(ws.read_buf.capacity(), 0, "read buffer held while idle");
        assert!(ws.conn.out.is_empty());
        assert_eq!(
            ws.conn.out.spare_capacity(),
            0,
            "write buffer held while idle"
        );
    }

    #[tokio::test]
    async fn idle_connection_releases_its_read_and_write_buffers() {
        let (mut ws, mut client) = pair().await;
        for (i, size) in [5usize, 300, 1024, 20_000].into_iter().enumerate() {
            let text: String = "é-wsx".chars().cycle().take(size).collect();
            let frame = client_frame(OpCode::Text, text.as_bytes());
            client.write_all(&frame).await.unwrap();
            let msg = ws.next().await.unwrap().unwrap();
            assert_eq!(msg, Message::text(text.clone()), "message {i}");
            ws.send(msg).await.unwrap();
            let want = server_frame(OpCode::Text, text.as_bytes());
            let mut got = vec![0u8; want.len()];
            client.read_exact(&mut got).await.unwrap();
            assert_eq!(got, &want[..], "echo {i}");
            assert_idle_and_empty(&mut ws);
        }
    }

    #[tokio::test]
    async fn several_frames_in_one_read_then_idle() {
        let (mut ws, mut client) = pair().await;
        let mut burst = Vec::new();
        for i in 0..50u32 {
            burst.extend_from_slice(&client_frame(OpCode::Binary, &i.to_be_bytes().repeat(100)));
        }
        client.write_all(&burst).await.unwrap();
        for i in 0..50u32 {
            let msg = ws.next().await.unwrap().unwrap();
            assert_eq!(msg, Message::binary(i.to_be_bytes().repeat(100)));
            ws.feed(msg).await.unwrap();
        }
        ws.flush().await.unwrap();
        let mut want = Vec::new();
        for i in 0..50u32 {
            want.extend_from_slice(&server_frame(OpCode::Binary, &i.to_be_bytes().repeat(100)));
        }
        let mut got = vec![0u8; want.len()];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(got, want);
        assert_idle_and_empty(&mut ws);
    }

    #[tokio::test]
    async fn an_announced_length_is_not_reserved_on_the_header_alone() {
        // A header announcing 60 MiB (under the 64 MiB default limits),
        // then 64 KiB of it: the read buffer grows with what arrived.
        let (mut ws, mut client) = pair().await;
        let mut bytes = vec![0x82u8, 0x80 | 127];
        bytes.extend_from_slice(&(60u64 << 20).to_be_bytes());
        bytes.extend_from_slice(&[1, 2, 3, 4]);
        bytes.extend_from_slice(&[0x5a; 64 << 10]);
        client.write_all(&bytes).await.unwrap();
        let waited = tokio::time::timeout(std::time::Duration::from_millis(300), ws.next()).await;
        assert!(waited.is_err(), "the frame is incomplete");
        assert!(!ws.read_buf.is_empty());
        assert!(
            ws.read_buf.capacity() < 1 << 20,
            "{} bytes reserved for {} received",
            ws.read_buf.capacity(),
            ws.read_buf.len()
        );
    }

    #[tokio::test]
    async fn large_message_arrives_intact_in_large_reads() {
        let (mut ws, mut client) = pair().await;
        let payload: Vec<u8> = (0..12 << 20).map(|i: u32| (i % 251) as u8).collect();
        let frame = client_frame(OpCode::Binary, &payload);
        let writer = tokio::spawn(async move {
            client.write_all(&frame).await.unwrap();
            client
        });
        let msg = ws.next().await.unwrap().unwrap();
        assert_eq!(msg.into_data(), payload);
        let _client = writer.await.unwrap();
        // The frame in progress was read in steps that grow with it, not
        // in READ_CHUNK pieces.
        assert!(
            ws.get_ref().largest_read > 4 * READ_CHUNK,
            "largest read {}",
            ws.get_ref().largest_read
        );
        assert_idle_and_empty(&mut ws);
    }
}
