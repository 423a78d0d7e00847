//! Session limits and policy.

use crate::quota::MAX_QUOTA;

/// Limits and policy of a [`crate::MuxSession`]. Every limit bounds what a
/// peer can make us hold; exceeding one has a drop code (see each field).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MuxConfig {
    /// Most logical channels open or being opened at once, channel 1
    /// included. Server: it never grants more slots than this allows, so a
    /// client exceeding it breaks the slot rule (2007, physical). Client:
    /// [`crate::MuxSession::open_channel`] refuses beyond it. Default 65.
    pub max_channels: u32,
    /// The receive window per channel: the quota we grant the peer (by
    /// FlowControl on channel 1 and on channels the client opens) and grant
    /// back as frames are consumed. Bounds what a peer can make us buffer per
    /// channel; more is a Send Quota Violation (3005). Clamped to
    /// 2..=2^63−1. Default 65536.
    pub receive_window: u64,
    /// Server: the initial send quota of each slot granted by NewChannelSlot
    /// (the client's quota on a channel it opens, and our receive window
    /// there). Clamped like `receive_window`. Default 65536.
    pub slot_quota: u64,
    /// Server: slots granted at start (mod_pywebsocket: 64), capped by
    /// `max_channels − 1`. Default 64.
    pub initial_slots: u32,
    /// Server: grant a new slot whenever a channel ends, so up to
    /// `max_channels` can be open over the connection's life (mod_pywebsocket
    /// grants 64 in total). Default true.
    pub replenish_slots: bool,
    /// Client: most unused slots it will hold; a NewChannelSlot beyond is a
    /// New Channel Slot Overflow (2008, physical). Default 2^20.
    pub max_slots: u64,
    /// Largest payload of one encapsulated frame we send (frames are split
    /// further; keeps channels fair on the physical connection). Default
    /// 16384.
    pub max_frame_payload: usize,
    /// Most payload bytes queued per channel waiting for quota (control
    /// frames exempt); more is [`crate::MuxError::SendBufferFull`]. Default
    /// 1 MiB.
    pub max_send_buffer: usize,
    /// Largest encapsulated handshake accepted. A larger request is refused
    /// with 400; a larger response is a Bad Response (2011). Default 16384.
    pub max_handshake_size: usize,
    /// Largest decoded message per channel (the extensions' decode budget).
    /// Exceeding it fails the channel (3000). Default 64 MiB.
    pub max_message_size: usize,
    /// Grant quota back (FlowControl) as soon as
    /// [`crate::MuxSession::poll_event`] hands out a frame. With `false` the
    /// application calls [`crate::MuxSession::release`] when it has consumed
    /// the data. Default true.
    pub auto_release: bool,
    /// Client: send AddChannelRequests delta-encoded while no identity
    /// request has been sent (see [`crate::handshake`] for why that is the
    /// interoperable rule). Default true.
    pub delta_requests: bool,
}

ws_ext_core::config_setters!(MuxConfig {
    with_max_channels => max_channels: u32,
    with_receive_window => receive_window: u64,
    with_slot_quota => slot_quota: u64,
    with_initial_slots => initial_slots: u32,
    with_replenish_slots => replenish_slots: bool,
    with_max_slots => max_slots: u64,
    with_max_frame_payload => max_frame_payload: usize,
    with_max_send_buffer => max_send_buffer: usize,
    with_max_handshake_size => max_handshake_size: usize,
    with_max_message_size => max_message_size: usize,
    with_auto_release => auto_release: bool,
    with_delta_requests => delta_requests: bool,
});

impl Default for MuxConfig {
    fn default() -> Self {
        Self {
            max_channels: 65,
            receive_window: 65536,
            slot_quota: 65536,
            initial_slots: 64,
            replenish_slots: true,
            max_slots: 1 << 20,
            max_frame_payload: 16384,
            max_send_buffer: 1 << 20,
            max_handshake_size: 16384,
            max_message_size: 64 << 20,
            auto_release: true,
            delta_requests: true,
        }
    }
}

impl MuxConfig {
    /// mod_pywebsocket 0.7.9's numbers: 64 slots of 8192 bytes, FlowControl
    /// of 8192 on channel 1, no slot replenishment.
    pub fn pywebsocket() -> Self {
        Self {
            receive_window: 8192,
            slot_quota: 8192,
            initial_slots: 64,
            replenish_slots: false,
            ..Self::default()
        }
    }

    pub(crate) fn normalized(mut self) -> Self {
        self.receive_window = self.receive_window.clamp(2, MAX_QUOTA);
        self.slot_quota = self.slot_quota.clamp(2, MAX_QUOTA);
        self.max_channels = self.max_channels.max(1);
        self.max_frame_payload = self.max_frame_payload.max(1);
        self
    }
}
