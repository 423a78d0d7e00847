//! The connection state both adapters share, with no I/O: the receive and
//! send halves of the engine, the write queue, and the closing-handshake
//! bookkeeping, draining after a failure, the keepalive (`idle_timeout`)
//! decisions. It decides what each received message calls for (a pong, a
//! close reply, failing the connection) and what silence calls for (a
//! keepalive ping, dropping the peer), and queues it; the adapters
//! ([`crate::WebSocketStream`], [`crate::blocking::WebSocket`]) only move
//! bytes and keep time (they are told the deadlines to wait for).

use std::time::Instant;

use bytes::BytesMut;
use tracing::{debug, trace};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::Message;
use ws_ext_core::ExtensionStack;

use crate::config::WebSocketConfig;
use crate::error::{Error, ProtocolError};
use crate::proto::outbuf::OutBuf;
use crate::proto::recv::{FrameSkipper, Read, Receiver};
use crate::proto::send::Sender;
use crate::proto::ReadyState;
use crate::proto::{close, Role};

/// The I/O-free state of one WebSocket connection.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) role: Role,
    pub(crate) config: WebSocketConfig,
    pub(crate) recv: Receiver,
    pub(crate) send: Sender,
    /// Encoded bytes not yet written.
    pub(crate) out: OutBuf,
    pub(crate) protocol: Option<String>,
    pub(crate) extensions: Option<String>,
    pub(crate) close_sent: bool,
    /// When our close frame was queued.
    pub(crate) close_sent_at: Option<Instant>,
    pub(crate) close_received: bool,
    /// The connection failed: skip frames until the peer's close or EOF.
    pub(crate) draining: bool,
    /// Skips the peer's frames while draining, as their bytes arrive
    /// (payloads are discarded, never buffered).
    skipper: FrameSkipper,
    /// The byte stream was lost (a frame rejected on its header) or the
    /// peer is dropped (idle timeout): after our close frame the adapter
    /// sends FIN and discards input until EOF or the close timeout.
    pub(crate) discard_input: bool,
    /// Keepalive (with `idle_timeout`): when silence calls for the next
    /// step (armed at the first wait), and whether our ping is out.
    idle_deadline: Option<Instant>,
    keepalive_sent: bool,
    /// The error to report once the failing connection is wound down.
    pub(crate) pending_error: Option<Error>,
    /// Nothing more will be read (EOF, timeout, or the handshake is done).
    pub(crate) read_done: bool,
    pub(crate) terminated: bool,
    /// Extensions are active (there is something to hibernate).
    pub(crate) has_extensions: bool,
}

/// What the keepalive asks of the adapter (see [`Connection::poll_keepalive`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keepalive {
    /// No keepalive now (`idle_timeout` off, or the connection is closing).
    Off,
    /// Nothing to do before this instant: wait for input until then.
    Wait(Instant),
    /// The peer was silent for the idle timeout: a ping was queued, or (it
    /// stayed silent after the ping) the connection was aborted with 1001
    /// and [`Error::IdleTimeout`]. Write the queue out and carry on.
    Acted,
}

/// What a receive step gave.
pub(crate) enum Received {
    /// At least this many more bytes are needed.
    NeedMore(usize),
    /// A message; `true` when a control reply (pong, close) was queued
    /// and should be written out now.
    Message(Message, bool),
    /// The peer violated the protocol: the connection is failing, its close
    /// frame is queued.
    Failed,
    /// Draining is over (the peer's close, or the stream is lost): nothing
    /// more will be read.
    Drained,
}

impl Connection {
    /// The state of a connection whose opening handshake is done. With no
    /// extension, text is validated as its frames arrive (a bad prefix of a
    /// long frame fails at once).
    pub(crate) fn new(
        role: Role,
        extensions: ExtensionStack,
        protocol: Option<String>,
        config: WebSocketConfig,
    ) -> Self {
        let ext_header = extensions.response_header();
        let plain = extensions.is_empty();
        let (send_stack, recv_stack) = extensions.split();
        let mut recv = Receiver::new(
            role,
            recv_stack,
            config.max_frame_size,
            config.max_message_size,
        );
        recv.set_early_utf8(plain);
        Connection {
            role,
            recv,
            send: Sender::new(role, send_stack),
            out: OutBuf::new(),
            protocol,
            extensions: ext_header,
            close_sent: false,
            close_sent_at: None,
            close_received: false,
            draining: false,
            skipper: FrameSkipper::new(),
            discard_input: false,
            idle_deadline: None,
            keepalive_sent: false,
            pending_error: None,
            read_done: false,
            terminated: false,
            has_extensions: !plain,
            config,
        }
    }

    /// The connection is quiet: let the extensions release the state they
    /// can rebuild (see [`crate::WebSocketConfig::hibernate_after`]).
    pub(crate) fn hibernate(&mut self) {
        if self.has_extensions && !self.terminated {
            self.recv.hibernate();
            self.send.hibernate();
        }
    }

    /// The browser-style ready state.
    pub(crate) fn ready_state(&self) -> ReadyState {
        if self.terminated {
            ReadyState::Closed
        } else if self.close_sent || self.close_received || self.draining {
            ReadyState::Closing
        } else {
            ReadyState::Open
        }
    }

    /// Whether a close frame was sent or received, or the connection is
    /// failing.
    pub(crate) fn is_closing(&self) -> bool {
        self.close_sent || self.close_received || self.draining
    }

    /// The closing handshake is done or nothing more will be read: time to
    /// wind down.
    pub(crate) fn should_wind_down(&self) -> bool {
        (self.close_sent && self.close_received) || self.read_done
    }

    /// Winding down, whether to wait for the peer to close the byte
    /// stream first: a client does (RFC 6455 §7.1.1, up to the close
    /// timeout) unless nothing more will be read; a server closes first.
    pub(crate) fn awaits_peer_eof(&self) -> bool {
        self.role == Role::Client && !self.read_done
    }

    /// When the close timeout runs out: `close_timeout` after our close
    /// frame was queued (`None` before that).
    pub(crate) fn close_deadline(&self) -> Option<Instant> {
        self.close_sent_at.map(|t| t + self.config.close_timeout)
    }

    fn mark_close_sent(&mut self) {
        self.close_sent = true;
        self.close_sent_at = Some(Instant::now());
    }

    /// Queue a close frame unless one was sent.
    pub(crate) fn queue_close(&mut self, frame: Option<CloseFrame>) {
        if self.close_sent {
            return;
        }
        self.mark_close_sent();
        if let Err(e) = self
            .send
            .encode_message(Message::Close(frame), &mut self.out)
        {
            debug!(error = %e, "could not encode the close frame");
        }
    }

    /// Encode a message from the application (a close frame included).
    pub(crate) fn encode(&mut self, msg: Message) -> Result<(), Error> {
        if self.terminated {
            return Err(Error::ConnectionClosed);
        }
        if self.close_sent {
            return Err(Error::SendAfterClose);
        }
        let is_close = matches!(msg, Message::Close(_));
        self.send.encode_message(msg, &mut self.out)?;
        if is_close {
            self.mark_close_sent();
        }
        Ok(())
    }

    /// Queue a prepared message (see [`Sender::encode_prepared`]).
    pub(crate) fn encode_prepared(
        &mut self,
        msg: &crate::proto::prepared::PreparedMessage,
    ) -> Result<bool, Error> {
        if self.terminated {
            return Err(Error::ConnectionClosed);
        }
        if self.close_sent {
            return Err(Error::SendAfterClose);
        }
        self.send.encode_prepared(msg, &mut self.out)
    }

    /// Fail the connection: queue our close frame, skip what the peer sends
    /// until its close, then report `err`.
    pub(crate) fn abort(&mut self, frame: CloseFrame, err: Error) {
        self.queue_close(Some(frame));
        self.draining = true;
        self.pending_error = Some(err);
    }

    fn fail(&mut self, err: ProtocolError) {
        let code = err.close_code();
        debug!(code = u16::from(code), error = %err, "failing the connection");
        if matches!(
            err,
            ProtocolError::CloseTooShort
                | ProtocolError::InvalidCloseCode(_)
                | ProtocolError::InvalidCloseReason
        ) {
            // The faulty frame was the peer's close: the handshake is done.
            self.close_received = true;
        }
        self.abort(close::frame(code, &err.to_string()), Error::Protocol(err));
    }

    /// Decode from `read_buf`. Pings are answered with pongs and close
    /// frames with close frames (queued), a protocol violation fails the
    /// connection (and, when the frame was rejected on its header, sets
    /// [`Connection::discard_input`]). While draining, frames are skipped
    /// as they stream until the peer's close; `NeedMore(0)` then asks for
    /// more bytes (the buffer holds no payload to keep).
    pub(crate) fn receive(&mut self, read_buf: &mut BytesMut) -> Received {
        if self.draining {
            return match self.skipper.skip(read_buf) {
                Ok(false) => Received::NeedMore(0),
                Ok(true) | Err(_) => {
                    self.read_done = true;
                    Received::Drained
                }
            };
        }
        if read_buf.is_empty() {
            // Between frames with nothing buffered (the usual state when a
            // poll finds no new bytes): nothing to parse.
            return Received::NeedMore(2);
        }
        match self.recv.read(read_buf) {
            Ok(Read::NeedMore(n)) => Received::NeedMore(n),
            Ok(Read::Message(msg)) => {
                let replied = match &msg {
                    Message::Ping(p) if !self.close_sent => {
                        let pong = Message::Pong(p.clone());
                        if let Err(e) = self.send.encode_message(pong, &mut self.out) {
                            debug!(error = %e, "could not encode the pong");
                        }
                        true
                    }
                    Message::Close(frame) => {
                        self.close_received = true;
                        let reply = frame.as_ref().map(|f| CloseFrame {
                            code: f.code,
                            reason: Default::default(),
                        });
                        trace!(?frame, "close received");
                        self.queue_close(reply);
                        true
                    }
                    _ => false,
                };
                Received::Message(msg, replied)
            }
            Err(e) => {
                self.fail(e);
                self.discard_input = self.recv.is_desynced();
                Received::Failed
            }
        }
    }

    /// Bytes arrived from the peer: it is not silent. `now` is only
    /// called when a keepalive is configured.
    pub(crate) fn input_received(&mut self, now: impl FnOnce() -> Instant) {
        if let Some(idle) = self.config.idle_timeout {
            self.idle_deadline = Some(now() + idle);
            self.keepalive_sent = false;
        }
    }

    /// The keepalive, about to wait for input (`now` is called only when a
    /// keepalive is configured and active): after
    /// `idle_timeout` without a byte from the peer, queue a ping; after as
    /// long again still without one, abort the connection (close 1001,
    /// then FIN and [`Error::IdleTimeout`]). The deadline is armed at the
    /// first wait and moved by [`Connection::input_received`].
    pub(crate) fn poll_keepalive(&mut self, now: impl FnOnce() -> Instant) -> Keepalive {
        let Some(idle) = self.config.idle_timeout else {
            return Keepalive::Off;
        };
        if self.close_sent || self.draining {
            return Keepalive::Off;
        }
        let now = now();
        let deadline = *self.idle_deadline.get_or_insert(now + idle);
        if now < deadline {
            return Keepalive::Wait(deadline);
        }
        if self.keepalive_sent {
            debug!("peer silent past the idle timeout; dropping");
            self.abort(
                close::frame(CloseCode::Away, "idle timeout"),
                Error::IdleTimeout,
            );
            self.discard_input = true;
        } else {
            trace!("connection idle: sending a keepalive ping");
            let ping = Message::Ping(bytes::Bytes::from_static(b"wsx-keepalive"));
            if let Err(e) = self.send.encode_message(ping, &mut self.out) {
                debug!(error = %e, "could not encode the keepalive ping");
            }
            self.keepalive_sent = true;
            self.idle_deadline = Some(now + idle);
        }
        Keepalive::Acted
    }

    /// The peer closed the byte stream: fine while closing (nothing more
    /// to read), an error otherwise.
    pub(crate) fn on_eof(&mut self) -> Result<(), Error> {
        if self.is_closing() {
            self.read_done = true;
            return Ok(());
        }
        self.terminated = true;
        Err(Error::ResetWithoutClose)
    }

    /// The connection is over: the error to report, if it failed.
    pub(crate) fn terminate(&mut self) -> Option<Error> {
        self.terminated = true;
        self.pending_error.take()
    }
}

/// The accessors both adapters share (over their `conn` and `io` fields).
macro_rules! connection_accessors {
    () => {
        /// Release now what the extensions can rebuild (a permessage-deflate
        /// compressor and decompressor with context takeover keep only their
        /// packed windows), as after
        /// [`WebSocketConfig::hibernate_after`](crate::WebSocketConfig::hibernate_after)
        /// of quiet. For a client that knows it will be idle (a mobile app
        /// going to the background, say). The next message restores the
        /// state; nothing changes for the peer.
        pub fn hibernate(&mut self) {
            self.conn.hibernate();
        }

        /// Our role.
        pub fn role(&self) -> Role {
            self.conn.role
        }

        /// The negotiated subprotocol.
        pub fn protocol(&self) -> Option<&str> {
            self.conn.protocol.as_deref()
        }

        /// The negotiated extensions, as the `Sec-WebSocket-Extensions`
        /// response value (`None`: no extension).
        pub fn extensions(&self) -> Option<&str> {
            self.conn.extensions.as_deref()
        }

        /// The browser-style ready state.
        pub fn ready_state(&self) -> ReadyState {
            self.conn.ready_state()
        }

        /// Encoded bytes not yet written to the socket (the browser's
        /// `bufferedAmount`, counted after compression).
        pub fn buffered_amount(&self) -> usize {
            self.conn.out.len()
        }

        /// The underlying connection.
        pub fn get_ref(&self) -> &S {
            &self.io
        }

        /// The underlying connection, mutably (writing to it directly
        /// corrupts the WebSocket stream).
        pub fn get_mut(&mut self) -> &mut S {
            &mut self.io
        }
    };
}
pub(crate) use connection_accessors;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn conn(idle: Option<Duration>) -> Connection {
        let config = WebSocketConfig {
            idle_timeout: idle,
            ..WebSocketConfig::default()
        };
        Connection::new(Role::Client, ExtensionStack::default(), None, config)
    }

    #[test]
    fn keepalive_pings_after_the_idle_timeout_then_aborts() {
        let idle = Duration::from_secs(10);
        let t0 = Instant::now();
        let mut c = conn(Some(idle));
        assert_eq!(c.poll_keepalive(|| t0), Keepalive::Wait(t0 + idle));
        assert!(c.out.is_empty());
        // Input moves the deadline.
        c.input_received(|| t0 + idle / 2);
        assert_eq!(
            c.poll_keepalive(|| t0 + idle),
            Keepalive::Wait(t0 + idle / 2 + idle)
        );
        // Silent past it: a ping, and a new deadline.
        let t1 = t0 + idle * 2;
        assert_eq!(c.poll_keepalive(|| t1), Keepalive::Acted);
        assert!(!c.out.is_empty(), "the ping is queued");
        assert!(!c.is_closing());
        assert_eq!(c.poll_keepalive(|| t1), Keepalive::Wait(t1 + idle));
        // Still silent: close 1001, discard input, report IdleTimeout.
        assert_eq!(c.poll_keepalive(|| t1 + idle), Keepalive::Acted);
        assert!(c.close_sent && c.draining && c.discard_input);
        assert!(matches!(c.pending_error, Some(Error::IdleTimeout)));
        assert_eq!(c.poll_keepalive(|| t1 + idle * 5), Keepalive::Off);
    }

    #[test]
    fn an_answer_to_the_ping_keeps_the_connection() {
        let idle = Duration::from_secs(1);
        let t0 = Instant::now();
        let mut c = conn(Some(idle));
        let _ = c.poll_keepalive(|| t0);
        assert_eq!(c.poll_keepalive(|| t0 + idle), Keepalive::Acted);
        c.input_received(|| t0 + idle + idle / 2);
        assert_eq!(
            c.poll_keepalive(|| t0 + idle * 2),
            Keepalive::Wait(t0 + idle * 2 + idle / 2)
        );
        assert!(!c.is_closing());
    }

    #[test]
    fn keepalive_off_never_reads_the_clock() {
        let mut c = conn(None);
        assert_eq!(
            c.poll_keepalive(|| unreachable!("clock read with no keepalive")),
            Keepalive::Off
        );
        c.input_received(|| unreachable!("clock read with no keepalive"));
    }

    #[test]
    fn a_frame_rejected_on_its_header_discards_input_a_later_fault_drains() {
        // Reserved opcode: rejected on the header.
        let mut c = conn(None);
        let mut buf = BytesMut::from(&[0x83u8, 0x01, b'x'][..]);
        assert!(matches!(c.receive(&mut buf), Received::Failed));
        assert!(c.discard_input && c.close_sent);
        // Invalid UTF-8 in a complete frame: the stream can be followed,
        // frames are skipped until the peer's close.
        let mut c = conn(None);
        let mut buf = BytesMut::from(&[0x81u8, 0x01, 0xff][..]);
        assert!(matches!(c.receive(&mut buf), Received::Failed));
        assert!(!c.discard_input && c.draining);
        // A huge frame while draining is skipped as it streams.
        let mut buf = BytesMut::from(&[0x82u8, 127, 0, 0, 0, 0, 1, 0, 0, 0][..]);
        assert!(matches!(c.receive(&mut buf), Received::NeedMore(0)));
        buf.extend_from_slice(&[0u8; 4096]);
        assert!(matches!(c.receive(&mut buf), Received::NeedMore(0)));
        assert!(buf.is_empty(), "skipped payload is not buffered");
    }
}
