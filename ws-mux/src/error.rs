//! Typed errors. Every failure a peer can cause carries its drop code.

use crate::drop_code;
use crate::ChannelId;

/// The WebSocket close code the engine sends on the physical connection
/// after a Fail the Physical Connection (1011, internal error).
pub const PHYSICAL_FAILURE_CLOSE_CODE: u16 = 1011;

/// A malformed mux unit or control block, with the drop code it causes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} (drop code {code} {})", drop_code::name(*code))]
pub struct WireError {
    /// The drop code (2001–2012).
    pub code: u16,
    /// What was wrong.
    pub reason: String,
}

impl WireError {
    /// A wire error with `code`.
    pub fn new(code: u16, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }
}

/// An error from a [`crate::MuxSession`] call.
///
/// The two physical variants end the session: after
/// [`MuxError::PhysicalFailed`] the engine sends what
/// [`crate::MuxSession::poll_transmit`] still returns (the DropChannel on
/// channel 0) and then closes the physical connection with
/// [`PHYSICAL_FAILURE_CLOSE_CODE`]; after [`MuxError::PeerFailedPhysical`] it
/// closes too (the peer is closing with 1011). The other variants are local
/// usage errors and leave the session running.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MuxError {
    /// We failed the physical connection (the peer broke the protocol, or
    /// [`crate::MuxSession::fail_physical`] was called).
    #[error("mux: failed the physical connection: {reason} (drop code {code} {})", drop_code::name(*code))]
    PhysicalFailed {
        /// The drop code sent on channel 0 (2000–2999).
        code: u16,
        /// Why.
        reason: String,
    },
    /// The peer sent DropChannel on channel 0: it failed the physical
    /// connection.
    #[error("mux: the peer failed the physical connection: {reason:?} (drop code {code:?})")]
    PeerFailedPhysical {
        /// The code it gave, if any.
        code: Option<u16>,
        /// Its message.
        reason: String,
    },
    /// The session has already failed; nothing more can be done on it.
    #[error("mux: the session has failed; close the physical connection")]
    SessionFailed,
    /// No open (or opening) channel has this ID.
    #[error("mux: no channel {0}")]
    UnknownChannel(ChannelId),
    /// The operation is not for this role (for example a server opening a
    /// channel).
    #[error("mux: {0} is not allowed in this role")]
    WrongRole(&'static str),
    /// The client has no free channel slot; wait for
    /// [`crate::Event::SlotsAvailable`].
    #[error("mux: no free channel slot (the server has not granted one)")]
    NoChannelSlot,
    /// The server asked for no more channels on this physical connection
    /// (NewChannelSlot with F=1): open a new physical connection.
    #[error("mux: the server asked to use another physical connection")]
    Fallback,
    /// Every channel ID is in use.
    #[error("mux: channel ids exhausted")]
    ChannelIdsExhausted,
    /// The local limit on open channels is reached.
    #[error("mux: at most {0} channels may be open")]
    TooManyChannels(u32),
    /// Queuing this frame would exceed the channel's send buffer limit; wait
    /// for the peer's FlowControl ([`crate::Event::QuotaAvailable`]).
    #[error("mux: send buffer of channel {channel} is full ({limit} bytes)")]
    SendBufferFull {
        /// The channel.
        channel: ChannelId,
        /// The configured limit.
        limit: usize,
    },
    /// The frame breaks the fragmentation rules (a continuation with no
    /// message open, a new message inside a fragmented one, a data frame
    /// after Close).
    #[error("mux: invalid frame on channel {channel}: {reason}")]
    InvalidFrame {
        /// The channel.
        channel: ChannelId,
        /// What was wrong.
        reason: String,
    },
    /// The channel is not in a state that allows this call (for example
    /// accepting a channel twice).
    #[error("mux: channel {channel}: {reason}")]
    BadState {
        /// The channel.
        channel: ChannelId,
        /// What was wrong.
        reason: String,
    },
    /// A value the wire cannot carry, or a bad argument.
    #[error("mux: invalid argument: {0}")]
    InvalidArgument(String),
    /// The channel's extension failed to encode a frame; the channel was
    /// failed (DropChannel 3000).
    #[error("mux: channel {channel}: extension failed: {source}")]
    Extension {
        /// The channel.
        channel: ChannelId,
        /// The extension's error.
        source: ws_ext_core::ExtensionError,
    },
}

impl MuxError {
    /// Whether the physical connection must now be closed (with
    /// [`PHYSICAL_FAILURE_CLOSE_CODE`]).
    pub fn fails_physical(&self) -> bool {
        matches!(
            self,
            Self::PhysicalFailed { .. } | Self::PeerFailedPhysical { .. } | Self::SessionFailed
        )
    }

    /// The close code for the physical connection when
    /// [`MuxError::fails_physical`], else `None`.
    pub fn close_code(&self) -> Option<u16> {
        self.fails_physical().then_some(PHYSICAL_FAILURE_CLOSE_CODE)
    }

    /// The drop code this error sent or received, if any.
    pub fn drop_code(&self) -> Option<u16> {
        match self {
            Self::PhysicalFailed { code, .. } => Some(*code),
            Self::PeerFailedPhysical { code, .. } => *code,
            _ => None,
        }
    }
}
