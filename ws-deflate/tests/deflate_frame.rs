//! The legacy deflate-frame / x-webkit-deflate-frame (specs §D.1).

mod common;

use common::text;
use miniz_oxide::inflate::stream::InflateState;
use miniz_oxide::{DataFormat, MZFlush};
use ws_deflate::{DeflateConfig, DeflateFrameClient, DeflateFrameServer, PerMessageDeflateServer};
use ws_ext_core::{
    close_code, ClientNegotiator, Frame, OpCode, RecvStack, RsvBits, SendStack, ServerNegotiator,
};

fn server() -> ServerNegotiator {
    ServerNegotiator::new()
        .with(PerMessageDeflateServer::new(DeflateConfig::default()))
        .with(DeflateFrameServer::new(DeflateConfig::default()))
}

fn respond(s: &ServerNegotiator, h: &str) -> Option<String> {
    s.negotiate([h.as_bytes()]).unwrap().response_header()
}

#[test]
fn negotiation_server() {
    let s = server();
    assert_eq!(
        respond(&s, "x-webkit-deflate-frame").as_deref(),
        Some("x-webkit-deflate-frame")
    );
    assert_eq!(
        respond(&s, "deflate-frame").as_deref(),
        Some("deflate-frame")
    );
    // miniz_oxide cannot honour a window limit: such offers are declined.
    let limited = ws_deflate::backend::LIMITS_COMPRESSOR_WINDOW.then_some("deflate-frame");
    assert_eq!(
        respond(&s, "deflate-frame; max_window_bits=10; no_context_takeover").as_deref(),
        limited
    );
    // Any permessage-deflate offer wins, wherever it stands, even one that is declined.
    assert_eq!(
        respond(&s, "x-webkit-deflate-frame, permessage-deflate").as_deref(),
        Some("permessage-deflate")
    );
    assert_eq!(
        respond(&s, "x-webkit-deflate-frame, permessage-deflate; bogus"),
        None
    );
    for bad in [
        "deflate-frame; foo",
        "deflate-frame; max_window_bits=16",
        "deflate-frame; max_window_bits",
        "deflate-frame; no_context_takeover=1",
        "deflate-frame; no_context_takeover; no_context_takeover",
    ] {
        assert_eq!(respond(&s, bad), None, "{bad}");
    }
    // The server's policy for the client goes in the response.
    let s = ServerNegotiator::new().with(DeflateFrameServer::new(
        DeflateConfig::default()
            .with_client_max_window_bits(Some(11))
            .with_client_no_context_takeover(true),
    ));
    assert_eq!(
        respond(&s, "x-webkit-deflate-frame").as_deref(),
        Some("x-webkit-deflate-frame; max_window_bits=11; no_context_takeover")
    );
}

#[test]
fn negotiation_client() {
    let c = ClientNegotiator::new().with(DeflateFrameClient::new(
        DeflateConfig::default().with_server_no_context_takeover(true),
    ));
    assert_eq!(
        c.offer_header().unwrap(),
        "deflate-frame; no_context_takeover"
    );
    assert!(c.finish([&b"deflate-frame; max_window_bits=9"[..]]).is_ok());
    assert!(c.finish([&b"deflate-frame; what"[..]]).is_err());
    assert!(
        c.finish([&b"x-webkit-deflate-frame"[..]]).is_err(),
        "not offered"
    );
    let w =
        ClientNegotiator::new().with(DeflateFrameClient::new(DeflateConfig::default()).webkit());
    assert_eq!(w.offer_header().unwrap(), "x-webkit-deflate-frame");
}

fn connect(
    client_cfg: DeflateConfig,
    server_cfg: DeflateConfig,
) -> ((SendStack, RecvStack), (SendStack, RecvStack)) {
    let c = ClientNegotiator::new().with(DeflateFrameClient::new(client_cfg).webkit());
    let s = ServerNegotiator::new().with(DeflateFrameServer::new(server_cfg));
    let ss = s.negotiate([c.offer_header().unwrap().as_bytes()]).unwrap();
    let cs = c
        .finish([ss.response_header().unwrap().as_bytes()])
        .unwrap();
    (cs.split(), ss.split())
}

#[test]
fn every_frame_compressed_with_rsv1_and_context_carries_over() {
    // Level 6: miniz_oxide's level-1 path (greedy, 4 Ki-entry hash) finds
    // too few of the back-references the size check below relies on.
    let l6 = DeflateConfig::default().with_level(6);
    let ((mut ctx, _), (_, mut srx)) = connect(l6.clone(), l6);
    let part = text(3, 400, 6);
    let mut miniz = InflateState::new_boxed(DataFormat::Raw);
    let mut sizes = Vec::new();
    for (i, op) in [OpCode::Text, OpCode::Continuation, OpCode::Continuation]
        .into_iter()
        .enumerate()
    {
        let f = ctx.encode(Frame::new(i == 2, op, part.clone())).unwrap();
        assert!(f.rsv.contains(RsvBits::RSV1), "frame {i} has RSV1");
        sizes.push(f.payload.len());
        // An independent inflater, state kept across frames.
        let mut input = f.payload.to_vec();
        input.extend_from_slice(&[0, 0, 0xff, 0xff]);
        let mut out = vec![0u8; 4096];
        let r = miniz_oxide::inflate::stream::inflate(&mut miniz, &input, &mut out, MZFlush::Sync);
        assert_eq!(&out[..r.bytes_written], &part[..], "miniz frame {i}");
        let d = srx.decode(f, 1 << 20).unwrap();
        assert_eq!(d.rsv, RsvBits::NONE);
        assert_eq!(&d.payload[..], &part[..]);
    }
    assert!(
        sizes[1] < sizes[0] / 4,
        "second frame refers to the first: {sizes:?}"
    );
}

#[test]
fn no_context_takeover_resets_per_frame() {
    let cfg = DeflateConfig::default().with_server_no_context_takeover(true);
    let ((_, mut crx), (mut stx, _)) = connect(cfg, DeflateConfig::default());
    let part = text(4, 400, 6);
    let a = stx
        .encode(Frame::new(true, OpCode::Binary, part.clone()))
        .unwrap();
    let b = stx
        .encode(Frame::new(true, OpCode::Binary, part.clone()))
        .unwrap();
    assert_eq!(a.payload, b.payload, "each frame starts afresh");
    assert_eq!(&crx.decode(a, 1 << 20).unwrap().payload[..], &part[..]);
    assert_eq!(&crx.decode(b, 1 << 20).unwrap().payload[..], &part[..]);
}

#[test]
fn mixed_plain_and_compressed_frames_and_errors() {
    let cfg = DeflateConfig::default().with_compress_threshold(50);
    let ((mut ctx, _), (_, mut srx)) = connect(cfg.clone(), cfg);
    let small = ctx.encode(Frame::new(false, OpCode::Text, "tiny")).unwrap();
    assert!(!small.rsv.contains(RsvBits::RSV1));
    let big = ctx
        .encode(Frame::new(true, OpCode::Continuation, vec![b'z'; 500]))
        .unwrap();
    assert!(big.rsv.contains(RsvBits::RSV1));
    let ping = ctx
        .encode(Frame::new(true, OpCode::Ping, vec![b'p'; 100]))
        .unwrap();
    assert!(
        !ping.rsv.contains(RsvBits::RSV1),
        "control frames are never compressed"
    );
    assert_eq!(&srx.decode(small, 1000).unwrap().payload[..], b"tiny");
    assert_eq!(srx.decode(big.clone(), 1000).unwrap().payload.len(), 500);
    // Budget.
    let e = srx.decode(big, 100).unwrap_err();
    assert_eq!(e.close_code(), close_code::MESSAGE_TOO_BIG);
    // RSV1 on a control frame.
    let ((_, _), (_, mut srx)) = connect(DeflateConfig::default(), DeflateConfig::default());
    let mut bad = Frame::new(true, OpCode::Ping, "x");
    bad.rsv = RsvBits::RSV1;
    assert_eq!(
        srx.decode(bad, 100).unwrap_err().close_code(),
        close_code::PROTOCOL_ERROR
    );
    // Corrupt data.
    let mut bad = Frame::new(true, OpCode::Binary, vec![0xff, 0xff]);
    bad.rsv = RsvBits::RSV1;
    assert_eq!(
        srx.decode(bad, 100).unwrap_err().close_code(),
        close_code::INVALID_PAYLOAD
    );
}
