//! Errors, each carrying the close code or HTTP status it causes.

use std::io;

use http::StatusCode;
use tungstenite::protocol::frame::coding::CloseCode;
use ws_ext_core::{ExtensionError, NegotiationError};

/// A fault in the peer's frames or messages (RFC 6455 §5, §7). Each variant
/// fails the connection with the close code of [`ProtocolError::close_code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A client sent a frame without a mask (1002).
    #[error("client frame is not masked")]
    UnmaskedFrame,
    /// A server sent a masked frame (1002).
    #[error("server frame is masked")]
    MaskedFrame,
    /// The opcode is reserved and no extension gives it a meaning (1002).
    #[error("reserved opcode {0:#x}")]
    ReservedOpcode(u8),
    /// A control frame without FIN (1002).
    #[error("fragmented control frame")]
    FragmentedControl,
    /// A control frame longer than 125 bytes (1002).
    #[error("control frame payload of {0} bytes exceeds 125")]
    ControlTooLong(u64),
    /// A 64-bit payload length with its most significant bit set (1002).
    #[error("payload length has its most significant bit set")]
    LengthTooLarge,
    /// A continuation frame with no message in progress (1002).
    #[error("continuation frame without a message in progress")]
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is in progress (1002).
    #[error("new data frame while a fragmented message is still in progress")]
    ExpectedContinuation,
    /// A close frame with a one-byte payload (1002).
    #[error("close frame payload of one byte")]
    CloseTooShort,
    /// A close code that must not appear on the wire (1002).
    #[error("invalid close code {0}")]
    InvalidCloseCode(u16),
    /// A close reason that is not UTF-8 (1007).
    #[error("close reason is not valid UTF-8")]
    InvalidCloseReason,
    /// A text message that is not UTF-8 (1007).
    #[error("text message is not valid UTF-8")]
    InvalidUtf8,
    /// A frame larger than the configured frame limit (1009).
    #[error("frame of {size} bytes exceeds the frame limit of {limit} bytes")]
    FrameTooBig {
        /// The announced payload length.
        size: u64,
        /// The limit.
        limit: usize,
    },
    /// A message larger than the configured message limit (1009).
    #[error("message exceeds the limit of {limit} bytes")]
    MessageTooBig {
        /// The limit.
        limit: usize,
    },
    /// An extension rejected a frame (code from the extension error).
    #[error(transparent)]
    Extension(#[from] ExtensionError),
}

impl ProtocolError {
    /// The close code this failure sends.
    pub fn close_code(&self) -> CloseCode {
        match self {
            Self::InvalidCloseReason | Self::InvalidUtf8 => CloseCode::Invalid,
            Self::FrameTooBig { .. } | Self::MessageTooBig { .. } => CloseCode::Size,
            Self::Extension(e) => CloseCode::from(e.close_code()),
            _ => CloseCode::Protocol,
        }
    }
}

/// A failed opening handshake. On the server side
/// [`HandshakeError::status`] is the HTTP status answered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// Reading or writing the socket failed.
    #[error("handshake I/O: {0}")]
    Io(#[from] io::Error),
    /// The handshake did not finish within the configured timeout.
    #[error("handshake timed out")]
    Timeout,
    /// The connection ended before the handshake was complete.
    #[error("connection closed during the handshake")]
    Eof,
    /// The request or response head is larger than the limit (431 on a server).
    #[error("HTTP head exceeds {limit} bytes")]
    HeadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The head is not valid HTTP/1.1 (400).
    #[error("malformed HTTP head: {0}")]
    Malformed(String),
    /// The request is valid HTTP but not a valid WebSocket upgrade (400),
    /// or the response does not complete one (client side).
    #[error("invalid WebSocket handshake: {0}")]
    Invalid(String),
    /// `Sec-WebSocket-Version` is not 13 (426 with `Sec-WebSocket-Version: 13`).
    #[error("unsupported Sec-WebSocket-Version {0:?}; only 13 is supported")]
    UnsupportedVersion(String),
    /// Extension negotiation failed (400 on a server; fails a client).
    #[error("extension negotiation failed: {0}")]
    Extensions(#[from] NegotiationError),
    /// The server answered with a status other than 101 (client side).
    #[error("server answered HTTP {status} instead of 101 Switching Protocols")]
    Status {
        /// The status code received.
        status: StatusCode,
        /// The response body read with the head, if any (lossy UTF-8).
        body: String,
    },
    /// The server's request callback rejected the request.
    #[error("request rejected with HTTP {status}: {reason}")]
    Rejected {
        /// Status answered.
        status: StatusCode,
        /// Body answered.
        reason: String,
    },
    /// The URL cannot be used for a WebSocket connection.
    #[error("invalid URL: {0}")]
    Url(String),
}

impl HandshakeError {
    /// The HTTP status a server answers this failure with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::HeadTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::UnsupportedVersion(_) => StatusCode::UPGRADE_REQUIRED,
            Self::Rejected { status, .. } => *status,
            Self::Timeout => StatusCode::REQUEST_TIMEOUT,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// Every error of a WebSocket connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The socket failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The opening handshake failed.
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    /// The peer broke the protocol; the connection was failed with
    /// [`Error::close_code`].
    #[error("protocol error (closed with {code}): {0}", code = .0.close_code())]
    Protocol(#[from] ProtocolError),
    /// An outgoing frame could not be encoded by an extension (1011 sent).
    #[error("extension failed on send: {0}")]
    Encode(ExtensionError),
    /// The connection is closed (after a close handshake, or it failed):
    /// nothing more can be sent or received.
    #[error("connection already closed")]
    ConnectionClosed,
    /// A message was given to send after a close frame was sent.
    #[error("cannot send: a close frame has already been sent")]
    SendAfterClose,
    /// The peer closed the TCP connection without a close handshake.
    #[error("connection reset without a closing handshake")]
    ResetWithoutClose,
    /// The peer sent nothing, not even a pong to our keepalive ping, for
    /// twice the idle timeout; the connection was dropped.
    #[error("the peer was silent for too long (idle timeout)")]
    IdleTimeout,
    /// A message that cannot be sent as given (a control payload over 125
    /// bytes, an invalid close code).
    #[error("invalid outgoing message: {0}")]
    InvalidMessage(String),
}

impl Error {
    /// The close code this error sent to the peer, if it failed the
    /// connection.
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Self::Protocol(p) => Some(p.close_code()),
            Self::Encode(_) => Some(CloseCode::Error),
            _ => None,
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
