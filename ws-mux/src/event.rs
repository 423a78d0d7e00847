//! What a session reports to the application.

use ws_ext_core::Frame;

use crate::handshake::{HandshakeRequest, HandshakeResponse};
use crate::ChannelId;

/// An event from [`crate::MuxSession::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Server: the client asks to open `channel`. Answer with
    /// [`crate::MuxSession::accept_channel`] or
    /// [`crate::MuxSession::reject_channel`].
    ChannelOpenRequested {
        /// The channel.
        channel: ChannelId,
        /// The request, delta already applied.
        request: HandshakeRequest,
        /// The subprotocols offered (`Sec-WebSocket-Protocol`), in order.
        protocols: Vec<String>,
        /// The extensions that will be active if accepted, in order.
        extensions: Vec<String>,
    },
    /// Client: the server accepted `channel`; it is open.
    ChannelOpened {
        /// The channel.
        channel: ChannelId,
        /// The subprotocol chosen by the server.
        protocol: Option<String>,
        /// The active extensions, in response order.
        extensions: Vec<String>,
        /// The response, delta already applied.
        response: HandshakeResponse,
    },
    /// Client: the server refused `channel` (AddChannelResponse with F=1).
    ChannelRejected {
        /// The channel.
        channel: ChannelId,
        /// The HTTP error response.
        response: HandshakeResponse,
    },
    /// A logical frame arrived, extensions undone. Data frames come in
    /// order (text/binary, then continuations to FIN); control frames are
    /// whole and may come between the fragments of a data message. A Close
    /// frame is delivered here too; answer it with
    /// [`crate::MuxSession::close_channel`].
    Frame {
        /// The channel.
        channel: ChannelId,
        /// The frame.
        frame: Frame,
    },
    /// The peer granted send quota on `channel` (FlowControl): queued frames
    /// can now leave through [`crate::MuxSession::poll_transmit`].
    QuotaAvailable {
        /// The channel.
        channel: ChannelId,
    },
    /// The closing handshake finished on `channel` (Close sent and
    /// received); the channel is gone.
    ChannelClosed {
        /// The channel.
        channel: ChannelId,
    },
    /// `channel` was dropped: by the peer (DropChannel), or by us because
    /// the peer broke a rule on it (Fail the Logical Channel). It is gone.
    ChannelDropped {
        /// The channel.
        channel: ChannelId,
        /// The drop code (see [`crate::drop_code`]); `None` if the peer gave
        /// no reason.
        code: Option<u16>,
        /// The reason text.
        reason: String,
        /// Whether the peer dropped it (else we failed it).
        by_peer: bool,
    },
    /// Client: the server granted more channel slots.
    SlotsAvailable {
        /// How many were added.
        slots: u64,
    },
    /// Client: the server asked for no more channels on this physical
    /// connection (NewChannelSlot with F=1); open new ones on a new physical
    /// connection.
    Fallback,
}
