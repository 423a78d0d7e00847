//! What a session does with a peer that breaks the rules: raw bytes in,
//! drop codes out.

use bytes::Bytes;
use ws_ext_core::{ExtensionStack, OpCode, ServerNegotiator};
use ws_mux::{
    drop_code, ChannelRequest, Event, Headers, MuxAgreement, MuxConfig, MuxError, MuxSession,
};

fn agreement() -> MuxAgreement {
    MuxAgreement {
        token: "mux_DO_NOT_USE".into(),
        quota: None,
    }
}

fn physical_request() -> Headers {
    Headers::new()
        .with("Host", "h")
        .with("Sec-WebSocket-Extensions", "mux_DO_NOT_USE")
}

/// A server session whose start-up output has been taken.
fn server(cfg: MuxConfig) -> MuxSession {
    let mut s = MuxSession::server(
        cfg,
        ServerNegotiator::new(),
        &agreement(),
        &physical_request(),
        ExtensionStack::default(),
    );
    while s.poll_transmit().is_some() {}
    s
}

fn client(cfg: MuxConfig) -> MuxSession {
    let mut c = MuxSession::client(
        cfg,
        vec![],
        &agreement(),
        &physical_request(),
        &Headers::new(),
        ExtensionStack::default(),
    );
    while c.poll_transmit().is_some() {}
    c
}

fn b(x: &'static [u8]) -> Bytes {
    Bytes::from_static(x)
}

/// A channel-0 message with one block: `first` byte, channel (< 128), and a
/// sized handshake `text` (< 126 bytes).
fn block(first: u8, channel: u8, text: &str) -> Bytes {
    assert!(text.len() < 126);
    let mut v = vec![0x00, first, channel, text.len() as u8];
    v.extend_from_slice(text.as_bytes());
    Bytes::from(v)
}

const GET: &str = "GET / HTTP/1.1\r\n\r\n";

/// Feed `input`; expect a physical failure with `code`, the DropChannel on
/// channel 0 as the last transmit, and a dead session.
fn expect_physical(s: &mut MuxSession, input: &'static [u8], code: u16) {
    let err = s.receive_physical(b(input)).unwrap_err();
    assert_eq!(err.drop_code(), Some(code), "{err}");
    assert_eq!(err.close_code(), Some(1011));
    let last = s.poll_transmit().expect("DropChannel(0)");
    assert_eq!(&last[..3], &[0x00, 0x60, 0x00], "DropChannel on channel 0");
    assert_eq!(u16::from_be_bytes([last[4], last[5]]), code);
    assert_eq!(s.poll_transmit(), None);
    assert_eq!(
        s.receive_physical(b(b"\x01\x81x")),
        Err(MuxError::SessionFailed)
    );
    assert_eq!(
        s.send_message(1, OpCode::Text, "x"),
        Err(MuxError::SessionFailed)
    );
}

#[test]
fn physical_failures_have_their_codes() {
    let cases: &[(&[u8], u16)] = &[
        (b"", drop_code::CHANNEL_ID_TRUNCATED),
        (b"\xc0\x01", drop_code::CHANNEL_ID_TRUNCATED),
        (b"\x01", drop_code::ENCAPSULATED_FRAME_TRUNCATED),
        (b"\x00\xa0", drop_code::UNKNOWN_MUX_OPCODE),
        (b"\x00\x41\x01\x01", drop_code::INVALID_MUX_CONTROL_BLOCK),
        // NewChannelSlot and AddChannelResponse may not reach a server.
        (b"\x00\x80\x01\x01", drop_code::INVALID_MUX_CONTROL_BLOCK),
        (b"\x00\x20\x02\x00", drop_code::INVALID_MUX_CONTROL_BLOCK),
        (b"\x00\x02\x02\x00", drop_code::UNKNOWN_REQUEST_ENCODING),
    ];
    for (input, code) in cases {
        let mut s = server(MuxConfig::default());
        expect_physical(&mut s, input, *code);
    }
    // AddChannelRequest for channel 1 (exists) and for channel 0.
    for ch in [0, 1] {
        let mut s = server(MuxConfig::default());
        let e = s.receive_physical(block(0x00, ch, GET)).unwrap_err();
        assert_eq!(e.drop_code(), Some(drop_code::CHANNEL_ALREADY_EXISTS));
    }
}

#[test]
fn text_message_on_the_physical_connection() {
    let mut s = server(MuxConfig::default());
    let e = s.receive_physical_text();
    assert_eq!(
        e.drop_code(),
        Some(drop_code::INVALID_ENCAPSULATING_MESSAGE)
    );
    assert!(s.poll_transmit().is_some());
    assert!(s.is_failed());
}

#[test]
fn add_channel_without_a_slot_is_2007() {
    let mut s = server(MuxConfig::default().with_initial_slots(1));
    s.receive_physical(block(0x00, 2, GET)).unwrap();
    assert!(matches!(
        s.poll_event(),
        Some(Event::ChannelOpenRequested { channel: 2, .. })
    ));
    let e = s.receive_physical(block(0x00, 3, GET)).unwrap_err();
    assert_eq!(e.drop_code(), Some(drop_code::NEW_CHANNEL_SLOT_VIOLATION));
    let out = s.poll_transmit().unwrap();
    assert_eq!(
        (&out[..3], &out[4..6]),
        (&[0x00, 0x60, 0x00][..], &[0x07, 0xd7][..])
    );
}

#[test]
fn max_channels_caps_the_slots_granted() {
    let mut s = MuxSession::server(
        MuxConfig::default().with_max_channels(3),
        ServerNegotiator::new(),
        &agreement(),
        &physical_request(),
        ExtensionStack::default(),
    );
    let first = s.poll_transmit().unwrap();
    // FlowControl(1, 65536) then NewChannelSlot(2 slots, 65536).
    assert_eq!(
        &first[first.len() - 11..],
        &[0x80, 0x02, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]
    );
}

#[test]
fn client_side_physical_failures() {
    // AddChannelRequest may not reach a client.
    let mut c = client(MuxConfig::default());
    expect_physical(
        &mut c,
        b"\x00\x00\x02\x00",
        drop_code::INVALID_MUX_CONTROL_BLOCK,
    );
    // Too many slots.
    let mut c = client(MuxConfig::default().with_max_slots(100));
    c.receive_physical(b(b"\x00\x80\x40\x00")).unwrap();
    expect_physical(
        &mut c,
        b"\x00\x80\x40\x00",
        drop_code::NEW_CHANNEL_SLOT_OVERFLOW,
    );
    // Fallback with non-zero numbers.
    let mut c = client(MuxConfig::default());
    expect_physical(
        &mut c,
        b"\x00\x81\x01\x00",
        drop_code::INVALID_MUX_CONTROL_BLOCK,
    );
    // AddChannelResponse for a channel that is open already.
    let mut c = client(MuxConfig::default());
    expect_physical(&mut c, b"\x00\x20\x01\x00", drop_code::BAD_RESPONSE);
    // Unknown response encoding.
    let mut c = client(MuxConfig::default());
    expect_physical(
        &mut c,
        b"\x00\x22\x01\x00",
        drop_code::UNKNOWN_RESPONSE_ENCODING,
    );
    // An unparseable response.
    let mut c = client(MuxConfig::default());
    c.receive_physical(b(b"\x00\x80\x01\x10")).unwrap();
    let ch = c.open_channel(ChannelRequest::new("/")).unwrap();
    assert_eq!(ch, 2);
    expect_physical(&mut c, b"\x00\x20\x02\x03xyz", drop_code::BAD_RESPONSE);
}

#[test]
fn peer_drop_on_channel_zero_ends_the_session() {
    let mut s = server(MuxConfig::default());
    let e = s
        .receive_physical(b(b"\x00\x60\x00\x07\x07\xd0error"))
        .unwrap_err();
    assert_eq!(
        e,
        MuxError::PeerFailedPhysical {
            code: Some(2000),
            reason: "error".into()
        }
    );
    assert!(e.fails_physical());
    assert_eq!(s.poll_transmit(), None, "no DropChannel back");
}

/// The (channel, code) of every DropChannel in the next transmits.
fn drops(s: &mut MuxSession) -> Vec<(u32, Option<u16>)> {
    let mut out = Vec::new();
    while let Some(p) = s.poll_transmit() {
        if let Ok(ws_mux::MuxUnit::Control(blocks)) = ws_mux::MuxUnit::decode(p) {
            for blk in blocks {
                if let ws_mux::ControlBlock::DropChannel { channel, reason } = blk {
                    out.push((channel, reason.map(|r| r.code)));
                }
            }
        }
    }
    out
}

fn dropped_events(s: &mut MuxSession) -> Vec<(u32, Option<u16>, bool)> {
    std::iter::from_fn(|| s.poll_event())
        .filter_map(|e| match e {
            Event::ChannelDropped {
                channel,
                code,
                by_peer,
                ..
            } => Some((channel, code, by_peer)),
            _ => None,
        })
        .collect()
}

#[test]
fn send_quota_violation_is_3005() {
    let mut s = server(
        MuxConfig::default()
            .with_receive_window(4)
            .with_auto_release(false),
    );
    // 1 + 3 = 4: fits exactly.
    s.receive_physical(b(b"\x01\x81abc")).unwrap();
    assert_eq!(s.receive_quota(1), Some(0));
    // One more byte: violation; the channel is failed, the session lives.
    s.receive_physical(b(b"\x01\x80d")).unwrap();
    assert_eq!(drops(&mut s), [(1, Some(drop_code::SEND_QUOTA_VIOLATION))]);
    assert_eq!(
        dropped_events(&mut s),
        [(1, Some(drop_code::SEND_QUOTA_VIOLATION), false)]
    );
    assert!(!s.is_failed());
    // Later frames for the dropped channel are ignored.
    s.receive_physical(b(b"\x01\x81e")).unwrap();
    assert!(s.poll_event().is_none());
}

#[test]
fn quota_is_granted_back_when_frames_are_consumed() {
    let mut s = server(MuxConfig::default().with_receive_window(4));
    for _ in 0..10 {
        s.receive_physical(b(b"\x01\x81abc")).unwrap();
        assert!(matches!(s.poll_event(), Some(Event::Frame { .. })));
        // FlowControl(1, 4).
        assert_eq!(s.poll_transmit().unwrap(), b(b"\x00\x40\x01\x04"));
    }
}

#[test]
fn send_quota_overflow_is_3006() {
    let mut s = server(MuxConfig::default());
    let max = b"\x00\x40\x01\x7f\x7f\xff\xff\xff\xff\xff\xff\xff";
    // quota param absent: 0 + (2^63-1) is fine, one more overflows.
    s.receive_physical(b(max)).unwrap();
    assert_eq!(s.send_quota(1), Some((1 << 63) - 1));
    s.receive_physical(b(b"\x00\x40\x01\x01")).unwrap();
    assert_eq!(drops(&mut s), [(1, Some(drop_code::SEND_QUOTA_OVERFLOW))]);
}

#[test]
fn bad_fragmentation_is_3009() {
    for input in [&b"\x01\x00x"[..], &b"\x01\x01x\x01\x01y"[..]] {
        let mut s = server(MuxConfig::default());
        // The second case: a Text frame without FIN, then another Text.
        let (first, rest) = if input.len() > 3 {
            input.split_at(3)
        } else {
            (input, &b""[..])
        };
        s.receive_physical(Bytes::copy_from_slice(first)).unwrap();
        if !rest.is_empty() {
            s.receive_physical(Bytes::copy_from_slice(rest)).unwrap();
        }
        assert_eq!(drops(&mut s), [(1, Some(drop_code::BAD_FRAGMENTATION))]);
    }
}

#[test]
fn unknown_rsv_bit_fails_the_channel() {
    // No extension on channel 1: RSV1 is not allowed.
    let mut s = server(MuxConfig::default());
    s.receive_physical(b(b"\x01\xc1x")).unwrap();
    assert_eq!(
        drops(&mut s),
        [(1, Some(drop_code::LOGICAL_CHANNEL_FAILED))]
    );
}

#[test]
fn fragmented_ping_is_reassembled() {
    let mut s = server(MuxConfig::default());
    s.receive_physical(b(b"\x01\x01He")).unwrap();
    s.receive_physical(b(b"\x01\x09pi")).unwrap();
    s.receive_physical(b(b"\x01\x80ng")).unwrap();
    s.receive_physical(b(b"\x01\x80llo")).unwrap();
    let frames: Vec<(OpCode, bool, Bytes)> = std::iter::from_fn(|| s.poll_event())
        .filter_map(|e| match e {
            Event::Frame { frame, .. } => Some((frame.opcode, frame.fin, frame.payload)),
            _ => None,
        })
        .collect();
    assert_eq!(
        frames,
        [
            (OpCode::Text, false, b(b"He")),
            (OpCode::Ping, true, b(b"ping")),
            (OpCode::Continuation, true, b(b"llo")),
        ]
    );
}

#[test]
fn frames_for_unknown_channels_are_ignored() {
    let mut s = server(MuxConfig::default());
    s.receive_physical(b(b"\x05\x81hello")).unwrap();
    s.receive_physical(b(b"\x00\x40\x09\x05")).unwrap();
    s.receive_physical(b(b"\x00\x60\x09\x00")).unwrap();
    assert!(s.poll_event().is_none());
    assert_eq!(s.poll_transmit(), None);
}

#[test]
fn drop_channel_is_acknowledged_with_3008() {
    let mut s = server(MuxConfig::default());
    s.receive_physical(b(b"\x00\x60\x01\x02\x03\xe8")).unwrap();
    // DropChannel(1, 3008) with an empty message (then a replacement slot).
    assert_eq!(
        &s.poll_transmit().unwrap()[..6],
        b"\x00\x60\x01\x02\x0b\xc0"
    );
    assert_eq!(dropped_events(&mut s), [(1, Some(1000), true)]);
    // An ACK is never acknowledged.
    let mut s = server(MuxConfig::default());
    s.receive_physical(b(b"\x00\x60\x01\x02\x0b\xc0")).unwrap();
    assert_eq!(drops(&mut s), []);
}

#[test]
fn malformed_request_is_refused_with_400() {
    let mut s = server(MuxConfig::default());
    s.receive_physical(b(b"\x00\x00\x02\x05hello")).unwrap();
    let out = s.poll_transmit().unwrap();
    // AddChannelResponse F=1 on channel 2, then (slot replenished) a
    // NewChannelSlot(1, 65536).
    let mut expect = b"\x00\x30\x02\x1cHTTP/1.1 400 Bad Request\r\n\r\n".to_vec();
    expect.extend_from_slice(b"\x80\x01\x7f\x00\x00\x00\x00\x00\x01\x00\x00");
    assert_eq!(&out[..], &expect[..]);
    assert!(s.poll_event().is_none());
    // Wrong method: refused too.
    s.receive_physical(block(0x00, 3, "POST / HTTP/1.1\r\n\r\n"))
        .unwrap();
    assert_eq!(&s.poll_transmit().unwrap()[..3], &[0x00, 0x30, 0x03]);
}

#[test]
fn fallback_stops_new_channels() {
    let mut c = client(MuxConfig::default());
    c.receive_physical(b(b"\x00\x80\x02\x10")).unwrap();
    c.receive_physical(b(b"\x00\x81\x00\x00")).unwrap();
    let ev: Vec<Event> = std::iter::from_fn(|| c.poll_event()).collect();
    assert_eq!(ev, [Event::SlotsAvailable { slots: 2 }, Event::Fallback]);
    assert_eq!(
        c.open_channel(ChannelRequest::new("/")),
        Err(MuxError::Fallback)
    );
}

#[test]
fn no_slot_no_channel() {
    let mut c = client(MuxConfig::default());
    assert_eq!(
        c.open_channel(ChannelRequest::new("/")),
        Err(MuxError::NoChannelSlot)
    );
    let mut s = server(MuxConfig::default());
    assert!(matches!(
        s.open_channel(ChannelRequest::new("/")),
        Err(MuxError::WrongRole(_))
    ));
}

/// What a client sees from mod_pywebsocket 0.7.9, byte for byte: FlowControl
/// and NewChannelSlot in separate messages, an identity AddChannelResponse
/// with `Connection: Upgrade` only, echoes, and the 3008 ACK.
#[test]
fn client_against_pywebsocket_bytes() {
    let mut c = client(MuxConfig::default().with_receive_window(8192));
    c.receive_physical(b(b"\x00\x40\x01\x7e\x20\x00")).unwrap();
    c.receive_physical(b(b"\x00\x80\x40\x7e\x20\x00")).unwrap();
    assert_eq!(c.send_quota(1), Some(8192));
    assert_eq!(c.free_slots(), 64);
    let ch = c.open_channel(ChannelRequest::new("/echo")).unwrap();
    let req = c.poll_transmit().unwrap();
    // Delta AddChannelRequest(2, "GET /echo HTTP/1.1\r\n\r\n") + FlowControl(2, 8192).
    let mut expect = b"\x00\x01\x02\x16GET /echo HTTP/1.1\r\n\r\n".to_vec();
    expect.extend_from_slice(b"\x40\x02\x7e\x20\x00");
    assert_eq!(&req[..], &expect[..]);
    c.receive_physical(block(
        0x20,
        2,
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n",
    ))
    .unwrap();
    assert!(c.is_open(ch));
    assert_eq!(c.send_quota(ch), Some(8192));
    c.send_message(ch, OpCode::Text, "Hello").unwrap();
    while c.poll_event().is_some() {}
    assert_eq!(c.poll_transmit().unwrap(), b(b"\x02\x81Hello"));
    c.receive_physical(b(b"\x00\x40\x02\x06")).unwrap();
    c.receive_physical(b(b"\x02\x81Hello")).unwrap();
    assert!(matches!(
        c.poll_event(),
        Some(Event::QuotaAvailable { channel: 2 })
    ));
    assert!(matches!(
        c.poll_event(),
        Some(Event::Frame { channel: 2, .. })
    ));
    c.drop_channel(ch, 1000, "").unwrap();
    assert_eq!(
        c.poll_transmit().unwrap(),
        // DropChannel(2, 1000); no grant for a channel being dropped.
        b(b"\x00\x60\x02\x02\x03\xe8")
    );
    c.receive_physical(b(b"\x00\x60\x02\x02\x0b\xc8")).unwrap();
    assert_eq!(c.poll_transmit(), None);
}
