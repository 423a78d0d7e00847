//! DropChannel reason codes (draft-ietf-hybi-websocket-multiplexing §C.10 of
//! the project spec; identical in pywebsocket, Jetty and Chromium).
//!
//! Ranges: 1000–1999 normal, 2000–2999 failures of the physical connection
//! (sent on channel 0), 3000–3999 failures of one logical channel,
//! 4000–4999 other peer decisions.

/// 1000: normal closure.
pub const NORMAL_CLOSURE: u16 = 1000;
/// 2000: physical connection failed.
pub const PHYSICAL_CONNECTION_FAILED: u16 = 2000;
/// 2001: a physical message that is not a mux unit (a text message).
pub const INVALID_ENCAPSULATING_MESSAGE: u16 = 2001;
/// 2002: the channel ID is cut off by the end of the message.
pub const CHANNEL_ID_TRUNCATED: u16 = 2002;
/// 2003: a non-zero channel ID with no encapsulated header byte after it.
pub const ENCAPSULATED_FRAME_TRUNCATED: u16 = 2003;
/// 2004: mux opcode 5, 6 or 7.
pub const UNKNOWN_MUX_OPCODE: u16 = 2004;
/// 2005: malformed control block (reserved bits, bad number, wrong direction…).
pub const INVALID_MUX_CONTROL_BLOCK: u16 = 2005;
/// 2006: AddChannelRequest for a channel that exists.
pub const CHANNEL_ALREADY_EXISTS: u16 = 2006;
/// 2007: AddChannelRequest without a free channel slot.
pub const NEW_CHANNEL_SLOT_VIOLATION: u16 = 2007;
/// 2008: NewChannelSlot beyond the limits.
pub const NEW_CHANNEL_SLOT_OVERFLOW: u16 = 2008;
/// 2009: bad AddChannelRequest.
pub const BAD_REQUEST: u16 = 2009;
/// 2010: AddChannelRequest with encoding 2 or 3.
pub const UNKNOWN_REQUEST_ENCODING: u16 = 2010;
/// 2011: bad AddChannelResponse.
pub const BAD_RESPONSE: u16 = 2011;
/// 2012: AddChannelResponse with encoding 2 or 3.
pub const UNKNOWN_RESPONSE_ENCODING: u16 = 2012;
/// 3000: logical channel failed.
pub const LOGICAL_CHANNEL_FAILED: u16 = 3000;
/// 3005: the peer sent more than its send quota.
pub const SEND_QUOTA_VIOLATION: u16 = 3005;
/// 3006: FlowControl pushed the send quota above 2^63−1.
pub const SEND_QUOTA_OVERFLOW: u16 = 3006;
/// 3007: idle timeout.
pub const IDLE_TIMEOUT: u16 = 3007;
/// 3008: acknowledges a DropChannel.
pub const DROP_CHANNEL_ACK: u16 = 3008;
/// 3009: bad fragmentation on a logical channel.
pub const BAD_FRAGMENTATION: u16 = 3009;
/// 4001: use another physical connection.
pub const USE_ANOTHER_PHYSICAL_CONNECTION: u16 = 4001;
/// 4002: busy.
pub const BUSY: u16 = 4002;

/// The name of a drop code, for logs (`"unknown"` if it is not defined).
pub fn name(code: u16) -> &'static str {
    match code {
        NORMAL_CLOSURE => "Normal Closure",
        PHYSICAL_CONNECTION_FAILED => "Physical Connection Failed",
        INVALID_ENCAPSULATING_MESSAGE => "Invalid Encapsulating Message",
        CHANNEL_ID_TRUNCATED => "Channel ID Truncated",
        ENCAPSULATED_FRAME_TRUNCATED => "Encapsulated Frame Is Truncated",
        UNKNOWN_MUX_OPCODE => "Unknown Mux Opcode",
        INVALID_MUX_CONTROL_BLOCK => "Invalid Mux Control Block",
        CHANNEL_ALREADY_EXISTS => "Channel Already Exists",
        NEW_CHANNEL_SLOT_VIOLATION => "New Channel Slot Violation",
        NEW_CHANNEL_SLOT_OVERFLOW => "New Channel Slot Overflow",
        BAD_REQUEST => "Bad Request",
        UNKNOWN_REQUEST_ENCODING => "Unknown Request Encoding",
        BAD_RESPONSE => "Bad Response",
        UNKNOWN_RESPONSE_ENCODING => "Unknown Response Encoding",
        LOGICAL_CHANNEL_FAILED => "Logical Channel Failed",
        SEND_QUOTA_VIOLATION => "Send Quota Violation",
        SEND_QUOTA_OVERFLOW => "Send Quota Overflow",
        IDLE_TIMEOUT => "Idle Timeout",
        DROP_CHANNEL_ACK => "DropChannel ACK",
        BAD_FRAGMENTATION => "Bad Fragmentation",
        USE_ANOTHER_PHYSICAL_CONNECTION => "Use Another Physical Connection",
        BUSY => "Busy",
        _ => "unknown",
    }
}

/// Whether `code` is in the physical-connection failure range 2000–2999.
pub fn is_physical(code: u16) -> bool {
    (2000..3000).contains(&code)
}
