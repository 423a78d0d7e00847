//! The connection state both adapters share, with no I/O: the receive and
//! send halves of the engine, the write queue, and the closing-handshake
//! bookkeeping. It decides what each received message calls for (a pong, a
//! close reply, failing the connection) and queues it; the adapters
//! ([`crate::WebSocketStream`], [`crate::blocking::WebSocket`]) only move
//! bytes and keep time.

use std::time::Instant;

use bytes::BytesMut;
use http::Response;
use tracing::{debug, trace};
use tungstenite::protocol::CloseFrame;
use tungstenite::Message;
use ws_ext_core::ExtensionStack;

use crate::config::{ClientConfig, WebSocketConfig};
use crate::error::{Error, ProtocolError};
use crate::proto::handshake::client;
use crate::proto::outbuf::OutBuf;
use crate::proto::recv::{Read, Receiver};
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
    /// The error to report once the failing connection is wound down.
    pub(crate) pending_error: Option<Error>,
    /// Nothing more will be read (EOF, timeout, or the handshake is done).
    pub(crate) read_done: bool,
    pub(crate) terminated: bool,
    /// Extensions are active (there is something to hibernate).
    pub(crate) has_extensions: bool,
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
    /// The state of a connection whose opening handshake is done. With
    /// `early_utf8` and no extension, text is validated as its fragments
    /// arrive.
    pub(crate) fn new(
        role: Role,
        extensions: ExtensionStack,
        protocol: Option<String>,
        config: WebSocketConfig,
        early_utf8: bool,
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
        if early_utf8 {
            recv.set_early_utf8(plain);
        }
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

    /// Fail the connection: queue our close frame, skip what the peer sends
    /// until its close, then report `err`.
    pub(crate) fn abort(&mut self, frame: CloseFrame, err: Error) {
        self.queue_close(Some(frame));
        self.draining = true;
        self.pending_error = Some(err);
    }

    fn fail(&mut self, err: ProtocolError) {
        let code = err.close_code();
        debug!(code, error = %err, "failing the connection");
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
    /// connection. While draining, frames go to `skip` instead (`true`:
    /// it saw the peer's close); `NeedMore(0)` then asks for more bytes.
    pub(crate) fn receive(
        &mut self,
        read_buf: &mut BytesMut,
        skip: impl FnOnce(&mut BytesMut) -> Result<bool, ProtocolError>,
    ) -> Received {
        if self.draining {
            return match skip(read_buf) {
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
                Received::Failed
            }
        }
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

/// Parse the server's handshake response in `buf`. Once it is complete:
/// the client connection and the response, with the bytes past the
/// response left in `buf`.
pub(crate) fn client_response(
    buf: &mut BytesMut,
    key: &str,
    config: &ClientConfig,
    early_utf8: bool,
) -> Result<Option<(Connection, Response<()>)>, Error> {
    let Some((connected, n)) = client::response(buf, key, config)? else {
        return Ok(None);
    };
    let _ = buf.split_to(n);
    let conn = Connection::new(
        Role::Client,
        connected.extensions,
        connected.protocol,
        config.websocket.clone(),
        early_utf8,
    );
    Ok(Some((conn, connected.response)))
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
