//! Client session against server session, in memory.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::*;
use ws_ext_core::{ClientExtensionFactory, Frame, OpCode, ServerNegotiator};
use ws_mux::{drop_code, ChannelRequest, Event, Headers, MuxConfig, MuxError};

#[test]
fn server_starts_like_pywebsocket() {
    let mut p = plain(MuxConfig::default(), MuxConfig::pywebsocket());
    let first = p.server.poll_transmit().unwrap();
    // FlowControl(1, 8192) then NewChannelSlot(64, 8192), one channel-0 message.
    assert_eq!(
        &first[..],
        &[0x00, 0x40, 0x01, 0x7e, 0x20, 0x00, 0x80, 0x40, 0x7e, 0x20, 0x00]
    );
    assert_eq!(p.server.poll_transmit(), None);
    p.client.receive_physical(first).unwrap();
    assert_eq!(p.client.free_slots(), 64);
    assert_eq!(p.client.send_quota(1), Some(8192));
    // The client offered quota=8192: the server may send on channel 1 at once.
    assert_eq!(p.server.send_quota(1), Some(8192));
}

#[test]
fn channel_one_carries_messages_both_ways() {
    let mut p = plain(MuxConfig::default(), MuxConfig::default());
    p.run();
    p.client.send_message(1, OpCode::Text, "ping?").unwrap();
    p.server
        .send_message(1, OpCode::Binary, vec![1u8, 2, 3])
        .unwrap();
    p.run();
    let (s, _) = messages(&p.server_frames(1));
    let (c, _) = messages(&p.client_frames(1));
    assert_eq!(s, [(OpCode::Text, b"ping?".to_vec())]);
    assert_eq!(c, [(OpCode::Binary, vec![1, 2, 3])]);
}

#[test]
fn many_channels_with_interleaved_fragmented_messages() {
    let cfg = MuxConfig::default()
        .with_receive_window(97)
        .with_slot_quota(61)
        .with_max_frame_payload(23);
    let mut p = plain(cfg.clone(), cfg);
    p.run();
    let ids: Vec<u32> = (0..12).map(|i| p.open(&format!("/c{i}"))).collect();
    assert_eq!(ids, (2..14).collect::<Vec<_>>());
    let mut rng = Rng(7);
    let mut sent: Vec<Vec<Vec<u8>>> = vec![Vec::new(); ids.len()];
    // Three fragmented messages per channel, fragments interleaved across
    // channels, with pings between fragments.
    for round in 0..3 {
        let bodies: Vec<Vec<u8>> = ids
            .iter()
            .map(|_| {
                let n = 50 + rng.below(400) as usize;
                rng.bytes(n)
            })
            .collect();
        for part in 0..3 {
            for (k, id) in ids.iter().enumerate() {
                let b = &bodies[k];
                let (lo, hi) = (b.len() * part / 3, b.len() * (part + 1) / 3);
                let op = if part == 0 {
                    OpCode::Binary
                } else {
                    OpCode::Continuation
                };
                p.client
                    .send_frame(*id, Frame::new(part == 2, op, b[lo..hi].to_vec()))
                    .unwrap();
                if part == 1 {
                    p.client
                        .send_message(*id, OpCode::Ping, format!("r{round}"))
                        .unwrap();
                }
            }
            p.step(5);
        }
        for (k, b) in bodies.into_iter().enumerate() {
            sent[k].push(b);
        }
    }
    p.run();
    for (k, id) in ids.iter().enumerate() {
        let frames = p.server_frames(*id);
        let (msgs, control) = messages(&frames);
        let got: Vec<Vec<u8>> = msgs.into_iter().map(|(_, b)| b).collect();
        assert_eq!(got, sent[k], "channel {id}");
        assert_eq!(control.len(), 3);
        assert!(control.iter().all(|f| f.opcode == OpCode::Ping && f.fin));
        // Frames were split by quota: more frames than sent.
        assert!(
            frames.len() > 9 + 3,
            "channel {id}: {} frames",
            frames.len()
        );
    }
}

fn deflate_pair() -> Pair {
    let dcfg = ws_deflate::DeflateConfig::default();
    let client_ext: Vec<Arc<dyn ClientExtensionFactory>> = vec![Arc::new(
        ws_deflate::PerMessageDeflateClient::new(dcfg.clone()),
    )];
    let server_ext = ServerNegotiator::new().with(ws_deflate::PerMessageDeflateServer::new(dcfg));
    pair(
        MuxConfig::default(),
        MuxConfig::default(),
        client_ext,
        server_ext,
        Some(65536),
    )
}

#[test]
fn compressed_channels_beside_plain_ones() {
    let mut p = deflate_pair();
    p.run();
    let z = p.client.open_channel(ChannelRequest::new("/z")).unwrap();
    let plain = p
        .client
        .open_channel(ChannelRequest {
            plain: true,
            ..ChannelRequest::new("/p")
        })
        .unwrap();
    p.run();
    let opened: Vec<(u32, Vec<String>)> = p
        .cev
        .iter()
        .filter_map(|e| match e {
            Event::ChannelOpened {
                channel,
                extensions,
                ..
            } => Some((*channel, extensions.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        opened,
        [(z, vec!["permessage-deflate".to_owned()]), (plain, vec![])]
    );
    let text = "Hello Hello Hello Hello Hello Hello Hello Hello Hello Hello!".repeat(20);
    // Channel 1 was offered permessage-deflate before mux: compressed too.
    for ch in [1, z, plain] {
        for _ in 0..3 {
            p.client
                .send_message(ch, OpCode::Text, text.clone())
                .unwrap();
        }
        // A fragmented compressed message.
        p.client
            .send_frame(ch, Frame::new(false, OpCode::Text, "Hel"))
            .unwrap();
        p.client
            .send_frame(ch, Frame::new(true, OpCode::Continuation, "lo"))
            .unwrap();
    }
    let mut wire: Vec<Bytes> = Vec::new();
    while let Some(m) = p.client.poll_transmit() {
        wire.push(m.clone());
        p.server.receive_physical(m).unwrap();
    }
    p.run();
    for ch in [1, z, plain] {
        let (msgs, _) = messages(&p.server_frames(ch));
        assert_eq!(msgs.len(), 4, "channel {ch}");
        for (op, body) in &msgs[..3] {
            assert_eq!((*op, body.as_slice()), (OpCode::Text, text.as_bytes()));
        }
        assert_eq!(msgs[3].1, b"Hello");
    }
    // On the wire: RSV1 in the encapsulated header of the compressed
    // channels only, and their messages are much smaller.
    let on = |ch: u8| -> Vec<&Bytes> { wire.iter().filter(|m| m[0] == ch).collect() };
    assert!(
        on(z as u8).iter().any(|m| m[1] == 0xc1),
        "RSV1|FIN|TEXT on /z"
    );
    assert!(on(1).iter().any(|m| m[1] == 0xc1));
    assert!(on(plain as u8).iter().all(|m| m[1] & 0x70 == 0));
    let size = |ch: u8| on(ch).iter().map(|m| m.len()).sum::<usize>();
    assert!(
        size(z as u8) * 4 < size(plain as u8),
        "{} vs {}",
        size(z as u8),
        size(plain as u8)
    );
    // The server echoes compressed too.
    p.server
        .send_message(z, OpCode::Text, text.clone())
        .unwrap();
    p.run();
    let (back, _) = messages(&p.client_frames(z));
    assert_eq!(back, [(OpCode::Text, text.into_bytes())]);
}

#[test]
fn one_channel_dropped_while_others_go_on() {
    let mut p = plain(MuxConfig::default(), MuxConfig::default());
    p.run();
    let a = p.open("/a");
    let b = p.open("/b");
    let c = p.open("/c");
    p.client
        .send_message(b, OpCode::Text, "queued, then discarded")
        .unwrap();
    p.client
        .drop_channel(b, drop_code::NORMAL_CLOSURE, "bye")
        .unwrap();
    p.run();
    assert!(p.sev.contains(&Event::ChannelDropped {
        channel: b,
        code: Some(drop_code::NORMAL_CLOSURE),
        reason: "bye".into(),
        by_peer: true
    }));
    assert!(p.server_frames(b).is_empty());
    // The ACK (3008) was absorbed: no event on the client.
    assert!(!p
        .cev
        .iter()
        .any(|e| matches!(e, Event::ChannelDropped { .. })));
    assert_eq!(
        p.client.send_message(b, OpCode::Text, "x"),
        Err(MuxError::UnknownChannel(b))
    );
    for ch in [a, c, 1] {
        p.client
            .send_message(ch, OpCode::Text, "still here")
            .unwrap();
    }
    // The server drops c; the client sees it and acknowledges.
    p.server.drop_channel(c, 4002, "busy").unwrap();
    p.run();
    assert!(p.cev.contains(&Event::ChannelDropped {
        channel: c,
        code: Some(4002),
        reason: "busy".into(),
        by_peer: true
    }));
    assert_eq!(messages(&p.server_frames(a)).0.len(), 1);
    assert_eq!(messages(&p.server_frames(1)).0.len(), 1);
    assert_eq!(p.server.channels(), [1, a]);
    assert_eq!(p.client.channels(), [1, a]);
}

#[test]
fn quota_exhaustion_and_replenishment() {
    let scfg = MuxConfig::default()
        .with_slot_quota(50)
        .with_auto_release(false);
    let mut p = plain(MuxConfig::default(), scfg);
    p.run();
    let ch = p.open("/q");
    assert_eq!(p.client.send_quota(ch), Some(50));
    let body = Rng(3).bytes(200);
    p.client
        .send_message(ch, OpCode::Binary, body.clone())
        .unwrap();
    p.run();
    // 1 octet for the opcode + 49 bytes, then the quota is gone.
    assert_eq!(p.client.send_quota(ch), Some(0));
    assert_eq!(p.client.queued_bytes(ch), Some(151));
    assert_eq!(p.server.receive_quota(ch), Some(0));
    let got: usize = p.server_frames(ch).iter().map(|f| f.payload.len()).sum();
    assert_eq!(got, 49);
    assert!(!p.client.wants_transmit());
    // The application consumes in pieces; each release is a FlowControl.
    p.cev.clear();
    for _ in 0..4 {
        p.server.release(ch, 50).unwrap();
        p.run();
    }
    assert!(p.cev.contains(&Event::QuotaAvailable { channel: ch }));
    let (msgs, _) = messages(&p.server_frames(ch));
    assert_eq!(msgs, [(OpCode::Binary, body)]);
    assert_eq!(p.client.queued_bytes(ch), Some(0));
    // Grants never exceed the window.
    p.server.release(ch, 1_000_000).unwrap();
    p.run();
    assert_eq!(p.client.send_quota(ch), Some(50));
}

#[test]
fn send_buffer_is_bounded() {
    let ccfg = MuxConfig::default().with_max_send_buffer(1000);
    let scfg = MuxConfig::default()
        .with_slot_quota(10)
        .with_auto_release(false);
    let mut p = plain(ccfg, scfg);
    p.run();
    let ch = p.open("/b");
    p.client
        .send_message(ch, OpCode::Binary, vec![0u8; 900])
        .unwrap();
    assert_eq!(
        p.client.send_message(ch, OpCode::Binary, vec![0u8; 200]),
        Err(MuxError::SendBufferFull {
            channel: ch,
            limit: 1000
        })
    );
    // Control frames still go in.
    p.client.send_message(ch, OpCode::Ping, "").unwrap();
}

#[test]
fn closing_handshake_ends_the_channel_and_returns_the_slot() {
    let mut p = plain(MuxConfig::default(), MuxConfig::default());
    p.run();
    let slots = p.client.free_slots();
    let ch = p.open("/x");
    assert_eq!(p.client.free_slots(), slots - 1);
    p.client.close_channel(ch, 1000, "done").unwrap();
    assert!(matches!(
        p.client.send_message(ch, OpCode::Text, "late"),
        Err(MuxError::InvalidFrame { .. })
    ));
    p.run();
    let close = p.server_frames(ch).pop().unwrap();
    assert_eq!(
        (close.opcode, &close.payload[..]),
        (OpCode::Close, &b"\x03\xe8done"[..])
    );
    p.server.close_channel(ch, 1000, "").unwrap();
    p.run();
    assert!(p.sev.contains(&Event::ChannelClosed { channel: ch }));
    assert!(p.cev.contains(&Event::ChannelClosed { channel: ch }));
    assert_eq!(p.client.channels(), [1]);
    assert_eq!(p.client.free_slots(), slots);
}

#[test]
fn rejected_channel_and_subprotocols() {
    let mut p = plain(MuxConfig::default(), MuxConfig::default());
    p.auto_accept = false;
    p.run();
    let r = p.client.open_channel(ChannelRequest::new("/nope")).unwrap();
    let ok = p
        .client
        .open_channel(ChannelRequest {
            protocols: vec!["a".into(), "b".into()],
            headers: Headers::new().with("X-Token", "t1"),
            ..ChannelRequest::new("/chat")
        })
        .unwrap();
    p.run();
    let requests: Vec<_> = p
        .sev
        .iter()
        .filter_map(|e| match e {
            Event::ChannelOpenRequested {
                channel,
                request,
                protocols,
                ..
            } => Some((*channel, request.clone(), protocols.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(requests.len(), 2);
    let (_, req, protos) = &requests[1];
    assert_eq!(req.path, "/chat");
    assert_eq!(protos, &["a", "b"]);
    // Delta-encoded: Host and Origin come from the physical request.
    assert_eq!(req.headers.get("host"), Some("example.test"));
    assert_eq!(req.headers.get("origin"), Some("http://example.test"));
    assert_eq!(req.headers.get("x-token"), Some("t1"));
    assert_eq!(req.headers.get("sec-websocket-key"), None);
    p.server.reject_channel(r, 404).unwrap();
    assert!(matches!(
        p.server.accept_channel(ok, Some("c"), Headers::new()),
        Err(MuxError::InvalidArgument(_))
    ));
    p.server
        .accept_channel(ok, Some("b"), Headers::new())
        .unwrap();
    p.run();
    assert!(p.cev.iter().any(|e| matches!(e,
        Event::ChannelRejected { channel, response } if *channel == r && response.status == 404)));
    assert!(p.cev.iter().any(|e| matches!(e,
        Event::ChannelOpened { channel, protocol: Some(pr), .. } if *channel == ok && pr == "b")));
    assert_eq!(p.client.channels(), [1, ok]);
}

#[test]
fn identity_requests_when_delta_is_off() {
    let ccfg = MuxConfig::default().with_delta_requests(false);
    let mut p = plain(ccfg, MuxConfig::default());
    p.run();
    p.client.open_channel(ChannelRequest::new("/i")).unwrap();
    let m = p.client.poll_transmit().unwrap();
    // channel 0, AddChannelRequest with Enc=0, channel 2.
    assert_eq!(&m[..3], &[0x00, 0x00, 0x02]);
    let text = String::from_utf8_lossy(&m);
    assert!(
        text.contains("GET /i HTTP/1.1\r\nHost: example.test\r\n"),
        "{text}"
    );
    assert!(text.contains("Connection: Upgrade\r\n"));
    assert!(!text.contains("Sec-WebSocket-Key"));
    assert!(!text.contains("Upgrade: websocket"));
    p.server.receive_physical(m).unwrap();
    p.run();
    assert!(p.client.is_open(2));
}

#[test]
fn delta_request_is_small_on_the_wire() {
    let mut p = plain(MuxConfig::default(), MuxConfig::default());
    p.run();
    p.client.open_channel(ChannelRequest::new("/d")).unwrap();
    let m = p.client.poll_transmit().unwrap();
    // Enc=1; the handshake is just the request line (nothing differs).
    assert_eq!(&m[..4], &[0x00, 0x01, 0x02, 19]);
    assert_eq!(&m[4..4 + 19], b"GET /d HTTP/1.1\r\n\r\n");
}
