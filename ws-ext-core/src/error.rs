//! Typed errors, each mapped to the close code or HTTP status it causes.

use crate::header::HeaderError;
use crate::rsv::RsvBits;

/// WebSocket close codes used by extension failures (RFC 6455 §7.4.1).
pub mod close_code {
    /// 1002: protocol error (bad RSV bits, bad framing from an extension's view).
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// 1007: payload data inconsistent with the message type (bad UTF-8, corrupt compressed data).
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// 1009: message too big.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// 1010: the client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: u16 = 1010;
    /// 1011: internal error.
    pub const INTERNAL_ERROR: u16 = 1011;
}

/// A failure while an extension transforms a frame. Each variant fails the
/// WebSocket connection with the close code of [`ExtensionError::close_code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtensionError {
    /// The peer broke the extension's framing rules (for example RSV1 on a
    /// continuation frame under permessage-deflate, or an RSV bit no
    /// negotiated extension defines). Close code 1002.
    #[error("{extension}: protocol error: {reason}")]
    Protocol {
        /// The extension that detected it (`"stack"` for the RSV check).
        extension: String,
        /// What was wrong.
        reason: String,
    },
    /// The peer sent data the extension cannot decode (corrupt compressed
    /// data). Close code 1007.
    #[error("{extension}: invalid data: {reason}")]
    InvalidData {
        /// The extension that detected it.
        extension: String,
        /// What was wrong.
        reason: String,
    },
    /// Decoding would exceed the message budget. Close code 1009. The
    /// decoder stops at the limit; it never produces more first.
    #[error("message exceeds the limit of {limit} bytes")]
    MessageTooBig {
        /// The budget that was exceeded, in bytes.
        limit: usize,
    },
    /// A local failure (a compressor error). Close code 1011.
    #[error("{extension}: internal error: {reason}")]
    Internal {
        /// The extension that failed.
        extension: String,
        /// What failed.
        reason: String,
    },
}

impl ExtensionError {
    /// Shorthand for [`ExtensionError::Protocol`].
    pub fn protocol(extension: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Protocol {
            extension: extension.into(),
            reason: reason.into(),
        }
    }
    /// Shorthand for [`ExtensionError::InvalidData`].
    pub fn invalid_data(extension: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidData {
            extension: extension.into(),
            reason: reason.into(),
        }
    }
    /// Shorthand for [`ExtensionError::Internal`].
    pub fn internal(extension: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Internal {
            extension: extension.into(),
            reason: reason.into(),
        }
    }
    /// The close code this failure sends.
    pub fn close_code(&self) -> u16 {
        match self {
            Self::Protocol { .. } => close_code::PROTOCOL_ERROR,
            Self::InvalidData { .. } => close_code::INVALID_PAYLOAD,
            Self::MessageTooBig { .. } => close_code::MESSAGE_TOO_BIG,
            Self::Internal { .. } => close_code::INTERNAL_ERROR,
        }
    }
}

/// A failed negotiation. On a server it answers the handshake with HTTP 400;
/// on a client it fails the connection before it opens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NegotiationError {
    /// The header does not follow the RFC 6455 §9.1 grammar.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// The server accepted an extension the client did not offer.
    #[error("server accepted extension {name:?}, which the client did not offer")]
    Unsolicited {
        /// The name in the response.
        name: String,
    },
    /// The response accepts the same extension twice.
    #[error("server accepted extension {name:?} more than once")]
    Duplicate {
        /// The repeated name.
        name: String,
    },
    /// Two accepted extensions claim one RSV bit.
    #[error("extensions {first:?} and {second:?} both use {bits}")]
    RsvConflict {
        /// The extension accepted first.
        first: String,
        /// The one that collides with it.
        second: String,
        /// The bits both claim.
        bits: RsvBits,
    },
    /// The extension refused the parameters in a response (client side), or
    /// refused to go on without an acceptable offer (server side).
    #[error("extension {name:?} rejected the negotiation: {reason}")]
    Rejected {
        /// The extension.
        name: String,
        /// Why, in words a user can act on.
        reason: String,
    },
}

impl NegotiationError {
    /// Shorthand for [`NegotiationError::Rejected`].
    pub fn rejected(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Rejected {
            name: name.into(),
            reason: reason.into(),
        }
    }
}
