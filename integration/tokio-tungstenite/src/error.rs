//! wsx's errors as the `tungstenite::Error` variants tungstenite itself
//! reports for the same failure.

use std::io;

use tungstenite::error::{CapacityError, Error as WsError, ProtocolError as TProto, UrlError};
use tungstenite::protocol::frame::coding::Data;
use ws_ext_core::ExtensionError;
use wsx::{Error, HandshakeError, ProtocolError};

/// Map an error of an open connection (or of a handshake).
pub(crate) fn from_wsx(e: Error) -> WsError {
    match e {
        Error::Io(e) => WsError::Io(e),
        Error::Handshake(h) => from_handshake(h),
        Error::Protocol(p) => from_protocol(p),
        Error::Encode(e) => WsError::Io(io::Error::other(e.to_string())),
        // wsx reports this once the connection is fully closed: what
        // tungstenite calls "trying to work with a closed connection".
        Error::ConnectionClosed => WsError::AlreadyClosed,
        Error::SendAfterClose => WsError::Protocol(TProto::SendAfterClosing),
        Error::ResetWithoutClose => WsError::Protocol(TProto::ResetWithoutClosingHandshake),
        Error::IdleTimeout => WsError::Io(io::Error::new(io::ErrorKind::TimedOut, "idle timeout")),
        Error::InvalidMessage(m) if m.starts_with("control frame") => {
            WsError::Protocol(TProto::ControlFrameTooBig)
        }
        Error::InvalidMessage(m) if m.starts_with("close code") => {
            WsError::Protocol(TProto::InvalidCloseSequence)
        }
        Error::InvalidMessage(m) => WsError::Io(io::Error::new(io::ErrorKind::InvalidInput, m)),
        other => WsError::Io(io::Error::other(other.to_string())),
    }
}

/// Map a failed opening handshake.
pub(crate) fn from_handshake(h: HandshakeError) -> WsError {
    match h {
        HandshakeError::Io(e) => WsError::Io(e),
        HandshakeError::Timeout => WsError::Io(io::Error::new(
            io::ErrorKind::TimedOut,
            "WebSocket handshake timed out",
        )),
        HandshakeError::Eof => WsError::Protocol(TProto::HandshakeIncomplete),
        HandshakeError::HeadTooLarge { .. } => WsError::Capacity(CapacityError::TooManyHeaders),
        HandshakeError::UnsupportedVersion(_) => {
            WsError::Protocol(TProto::MissingSecWebSocketVersionHeader)
        }
        HandshakeError::Extensions(_) => WsError::Protocol(TProto::InvalidHeader(Box::new(
            http::header::SEC_WEBSOCKET_EXTENSIONS,
        ))),
        HandshakeError::Status { status, body } => {
            let mut resp = http::Response::new(if body.is_empty() {
                None
            } else {
                Some(body.into_bytes())
            });
            *resp.status_mut() = status;
            WsError::Http(Box::new(resp))
        }
        HandshakeError::Rejected { status, reason } => {
            let mut resp = http::Response::new(Some(reason.into_bytes()));
            *resp.status_mut() = status;
            WsError::Http(Box::new(resp))
        }
        HandshakeError::Url(m) => WsError::Url(UrlError::UnableToConnect(m)),
        HandshakeError::Invalid(m) => from_invalid(&m),
        other => WsError::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            other.to_string(),
        )),
    }
}

/// wsx describes an invalid handshake in words; tungstenite has a variant
/// for most of them.
fn from_invalid(m: &str) -> WsError {
    let p = if m.contains("method") {
        TProto::WrongHttpMethod
    } else if m.contains("HTTP version") {
        TProto::WrongHttpVersion
    } else if m.contains("Connection") {
        TProto::MissingConnectionUpgradeHeader
    } else if m.contains("Upgrade") {
        TProto::MissingUpgradeWebSocketHeader
    } else if m.contains("Sec-WebSocket-Key") {
        TProto::MissingSecWebSocketKey
    } else if m.contains("Sec-WebSocket-Accept") {
        TProto::SecWebSocketAcceptKeyMismatch
    } else if m.contains("Host") {
        TProto::InvalidHeader(Box::new(http::header::HOST))
    } else {
        return WsError::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("invalid WebSocket handshake: {m}"),
        ));
    };
    WsError::Protocol(p)
}

fn from_protocol(p: ProtocolError) -> WsError {
    let t = match p {
        ProtocolError::UnmaskedFrame => TProto::UnmaskedFrameFromClient,
        ProtocolError::MaskedFrame => TProto::MaskedFrameFromServer,
        ProtocolError::ReservedOpcode(op) if op < 8 => TProto::UnknownDataFrameType(op),
        ProtocolError::ReservedOpcode(op) => TProto::UnknownControlFrameType(op),
        ProtocolError::FragmentedControl => TProto::FragmentedControlFrame,
        ProtocolError::ControlTooLong(_) => TProto::ControlFrameTooBig,
        ProtocolError::LengthTooLarge => {
            return WsError::Capacity(CapacityError::MessageTooLong {
                size: usize::MAX,
                max_size: usize::MAX >> 1,
            })
        }
        ProtocolError::UnexpectedContinuation => TProto::UnexpectedContinueFrame,
        // wsx does not say which data frame arrived; tungstenite names it.
        ProtocolError::ExpectedContinuation => TProto::ExpectedFragment(Data::Binary),
        ProtocolError::CloseTooShort | ProtocolError::InvalidCloseCode(_) => {
            TProto::InvalidCloseSequence
        }
        ProtocolError::InvalidCloseReason => {
            return WsError::Utf8("close reason is not valid UTF-8".into())
        }
        ProtocolError::InvalidUtf8 => {
            return WsError::Utf8("text message is not valid UTF-8".into())
        }
        ProtocolError::FrameTooBig { size, limit } => {
            return WsError::Capacity(CapacityError::MessageTooLong {
                size: usize::try_from(size).unwrap_or(usize::MAX),
                max_size: limit,
            })
        }
        // The message was cut off at the limit: its full size is unknown.
        ProtocolError::MessageTooBig { limit } => {
            return WsError::Capacity(CapacityError::MessageTooLong {
                size: limit.saturating_add(1),
                max_size: limit,
            })
        }
        ProtocolError::Extension(e) => return from_extension(e),
        other => {
            return WsError::Io(io::Error::new(
                io::ErrorKind::InvalidData,
                other.to_string(),
            ))
        }
    };
    WsError::Protocol(t)
}

fn from_extension(e: ExtensionError) -> WsError {
    match e {
        ExtensionError::Protocol { ref extension, .. } if extension == "stack" => {
            WsError::Protocol(TProto::NonZeroReservedBits)
        }
        ExtensionError::MessageTooBig { limit } => {
            WsError::Capacity(CapacityError::MessageTooLong {
                size: limit.saturating_add(1),
                max_size: limit,
            })
        }
        other => WsError::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            other.to_string(),
        )),
    }
}
