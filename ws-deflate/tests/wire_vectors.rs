//! The RFC 7692 §7.2.3 / specs §B.4 wire vectors, both ways.

mod common;

use common::*;
use ws_deflate::backend::Compressor;
use ws_deflate::{ClientMaxWindowBits, DeflateConfig, OfferParams, ResponseParams};
use ws_ext_core::{close_code, Decoder, Encoder, ExtensionError, Frame, OpCode};

/// The RFC's example bytes are zlib's at its default level (6); the
/// default (native) compressor encodes the second "Hello" differently, one
/// byte shorter and decodably (`default_level_second_hello_decodes`,
/// `native_second_hello_is_no_longer_than_rfc`).
fn no_skip() -> DeflateConfig {
    DeflateConfig::default()
        .with_skip_if_not_smaller(false)
        .with_level(6)
        .with_compressor(Compressor::Zlib)
}

fn codec() -> (ws_deflate::PmdEncoder, ws_deflate::PmdDecoder) {
    codec_for(OfferParams::default(), ResponseParams::default(), no_skip())
}

fn decode_wire(
    dec: &mut ws_deflate::PmdDecoder,
    frames: &[&[u8]],
) -> Result<Vec<u8>, ExtensionError> {
    let mut out = Vec::new();
    for w in frames {
        let f = dec.decode(frame_from_wire(w), 1 << 20)?;
        out.extend_from_slice(&f.payload);
    }
    Ok(out)
}

#[test]
fn hello_one_frame_encodes_to_rfc_bytes() {
    let (mut enc, _) = codec();
    let f = enc.encode(Frame::new(true, OpCode::Text, "Hello")).unwrap();
    assert_eq!(
        wire_of(&f),
        [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
    );
}

#[test]
fn second_hello_with_shared_window_encodes_to_rfc_bytes() {
    let (mut enc, _) = codec();
    enc.encode(Frame::new(true, OpCode::Text, "Hello")).unwrap();
    let f = enc.encode(Frame::new(true, OpCode::Text, "Hello")).unwrap();
    assert_eq!(wire_of(&f), [0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]);
}

#[test]
fn native_second_hello_is_no_longer_than_rfc() {
    let cfg = DeflateConfig::default().with_skip_if_not_smaller(false);
    for level in [1, 6, 9] {
        let (mut enc, mut dec) = codec_for(
            OfferParams::default(),
            ResponseParams::default(),
            cfg.clone().with_level(level),
        );
        let first = enc.encode(Frame::new(true, OpCode::Text, "Hello")).unwrap();
        // The first "Hello" has nothing to refer to: the RFC's fixed block.
        assert_eq!(
            wire_of(&first),
            [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
        );
        let second = enc.encode(Frame::new(true, OpCode::Text, "Hello")).unwrap();
        let wire = wire_of(&second);
        assert!(wire.len() <= 7, "level {level}: {wire:02x?}");
        let both = decode_wire(&mut dec, &[&wire_of(&first), &wire]).unwrap();
        assert_eq!(&both[..], b"HelloHello");
    }
}

#[test]
fn default_level_second_hello_decodes() {
    let cfg = DeflateConfig::default().with_skip_if_not_smaller(false);
    let (mut enc, mut dec) = codec_for(OfferParams::default(), ResponseParams::default(), cfg);
    for _ in 0..2 {
        let f = enc.encode(Frame::new(true, OpCode::Text, "Hello")).unwrap();
        assert_eq!(
            &decode_wire(&mut dec, &[&wire_of(&f)]).unwrap()[..],
            b"Hello"
        );
    }
}

#[test]
fn no_context_takeover_repeats_first_form() {
    let offer = OfferParams {
        server_no_context_takeover: false,
        client_no_context_takeover: true,
        ..OfferParams::default()
    };
    let (mut enc, _) = codec_for(offer, ResponseParams::default(), no_skip());
    for _ in 0..3 {
        let f = enc.encode(Frame::new(true, OpCode::Text, "Hello")).unwrap();
        assert_eq!(
            wire_of(&f),
            [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
        );
    }
}

#[test]
fn fragmented_encode_sets_rsv1_on_first_frame_only_and_decodes() {
    let (mut enc, _) = codec();
    let a = enc.encode(Frame::new(false, OpCode::Text, "Hel")).unwrap();
    let b = enc
        .encode(Frame::new(true, OpCode::Continuation, "lo"))
        .unwrap();
    assert_eq!(a.rsv.bits(), 0x40);
    assert_eq!(b.rsv.bits(), 0);
    // The first fragment keeps its sync-flush trailer; the last strips it.
    assert!(a.payload.ends_with(&[0, 0, 0xff, 0xff]));
    assert!(!b.payload.ends_with(&[0, 0, 0xff, 0xff]));
    let (_, mut dec) = codec();
    assert_eq!(
        decode_wire(&mut dec, &[&wire_of(&a), &wire_of(&b)]).unwrap(),
        b"Hello"
    );
}

#[test]
fn empty_message_is_single_zero_byte() {
    let (mut enc, mut dec) = codec();
    let f = enc.encode(Frame::new(true, OpCode::Binary, "")).unwrap();
    assert_eq!(wire_of(&f), [0xc2, 0x01, 0x00]);
    // And again after some data with context kept.
    enc.encode(Frame::new(true, OpCode::Binary, "abc")).unwrap();
    let f = enc.encode(Frame::new(true, OpCode::Binary, "")).unwrap();
    assert_eq!(&f.payload[..], [0x00]);
    // Empty final fragment after a flushed first fragment: `00`.
    enc.encode(Frame::new(false, OpCode::Text, "Hello"))
        .unwrap();
    let f = enc
        .encode(Frame::new(true, OpCode::Continuation, ""))
        .unwrap();
    assert_eq!(&f.payload[..], [0x00]);
    assert_eq!(decode_wire(&mut dec, &[&[0xc2, 0x01, 0x00]]).unwrap(), b"");
}

#[test]
fn decodes_every_spec_vector() {
    let cases: Vec<(&str, Vec<&[u8]>)> = vec![
        (
            "one frame",
            vec![&[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]],
        ),
        (
            "two fragments",
            vec![
                &[0x41, 0x03, 0xf2, 0x48, 0xcd],
                &[0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00],
            ],
        ),
        (
            "stored block",
            vec![&[
                0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
            ]],
        ),
        (
            "BFINAL block (pywebsocket)",
            vec![&[0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00]],
        ),
        (
            "BFINAL block (zlib Z_FINISH)",
            vec![&[0xc1, 0x07, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]],
        ),
        (
            "two blocks",
            vec![&[
                0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07,
                0x00,
            ]],
        ),
        (
            "final fragment with no data",
            vec![
                &[
                    0x41, 0x0b, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00, 0x00, 0xff, 0xff,
                ],
                &[0x80, 0x01, 0x00],
            ],
        ),
    ];
    for (name, frames) in cases {
        let (_, mut dec) = codec();
        assert_eq!(decode_wire(&mut dec, &frames).unwrap(), b"Hello", "{name}");
        // The inflater is in a clean state for the next message.
        let again = decode_wire(
            &mut dec,
            &[&[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]],
        );
        assert_eq!(again.unwrap(), b"Hello", "{name}: next message");
    }
}

#[test]
fn decodes_shared_window_second_message() {
    let (_, mut dec) = codec();
    let out = decode_wire(
        &mut dec,
        &[
            &[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
            &[0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00],
        ],
    )
    .unwrap();
    assert_eq!(out, b"HelloHello");
}

#[test]
fn bfinal_then_context_message_restarts_stream() {
    // After a BFINAL message the peer's next message is a new stream.
    let (_, mut dec) = codec();
    let out = decode_wire(
        &mut dec,
        &[
            &[0xc1, 0x07, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
            &[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
        ],
    )
    .unwrap();
    assert_eq!(out, b"HelloHello");
}

#[test]
fn empty_fixed_huffman_block_decodes_to_empty() {
    let (_, mut dec) = codec();
    assert_eq!(
        decode_wire(&mut dec, &[&[0xc1, 0x02, 0x02, 0x00]]).unwrap(),
        b""
    );
    assert_eq!(
        decode_wire(
            &mut dec,
            &[&[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]]
        )
        .unwrap(),
        b"Hello"
    );
}

#[test]
fn rsv1_with_empty_payload_is_empty_message_and_leaves_inflater_alone() {
    let (_, mut dec) = codec();
    assert_eq!(decode_wire(&mut dec, &[&[0xc1, 0x00]]).unwrap(), b"");
    assert_eq!(
        decode_wire(
            &mut dec,
            &[&[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]]
        )
        .unwrap(),
        b"Hello"
    );
}

#[test]
fn rsv1_on_continuation_or_control_is_protocol_error() {
    let (_, mut dec) = codec();
    let e = decode_wire(
        &mut dec,
        &[
            &[0x41, 0x03, 0xf2, 0x48, 0xcd],
            &[0xc0, 0x04, 0xc9, 0xc9, 0x07, 0x00],
        ],
    )
    .unwrap_err();
    assert_eq!(e.close_code(), close_code::PROTOCOL_ERROR, "{e}");
    assert!(e.to_string().contains("continuation"), "{e}");
    for ctl in [0xc9u8, 0xca, 0xc8] {
        let (_, mut dec) = codec();
        let e = decode_wire(&mut dec, &[&[ctl, 0x00]]).unwrap_err();
        assert_eq!(e.close_code(), close_code::PROTOCOL_ERROR);
        assert!(e.to_string().contains("control"), "{e}");
    }
}

#[test]
fn control_frames_pass_uncompressed_inside_a_message() {
    let (mut enc, mut dec) = codec();
    let a = enc
        .encode(Frame::new(false, OpCode::Text, "Hello "))
        .unwrap();
    let ping = enc.encode(Frame::new(true, OpCode::Ping, "ping")).unwrap();
    assert_eq!(ping.rsv.bits(), 0);
    assert_eq!(&ping.payload[..], b"ping");
    let b = enc
        .encode(Frame::new(true, OpCode::Continuation, "world"))
        .unwrap();
    let mut out = Vec::new();
    for f in [a, ping, b] {
        let is_ping = f.opcode == OpCode::Ping;
        let d = dec.decode(f, 1000).unwrap();
        if is_ping {
            assert_eq!(&d.payload[..], b"ping");
        } else {
            out.extend_from_slice(&d.payload);
        }
    }
    assert_eq!(out, b"Hello world");
}

#[test]
fn uncompressed_message_passes_and_keeps_context() {
    let (_, mut dec) = codec();
    let out = decode_wire(
        &mut dec,
        &[
            &[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
            &[0x81, 0x03, b'a', b'b', b'c'],
            &[0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00],
        ],
    )
    .unwrap();
    assert_eq!(out, b"HelloabcHello");
}

#[test]
fn corrupt_data_is_invalid_payload() {
    let (_, mut dec) = codec();
    // BTYPE=11 is reserved.
    let e = decode_wire(&mut dec, &[&[0xc1, 0x02, 0xff, 0xff]]).unwrap_err();
    assert_eq!(e.close_code(), close_code::INVALID_PAYLOAD, "{e}");
    assert!(e.to_string().contains("corrupt"), "{e}");
    // A distance beyond anything seen (a peer that lost context sync).
    let (_, mut dec) = codec();
    let r = decode_wire(&mut dec, &[&[0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]]);
    if cfg!(feature = "zlib-rs") {
        let e = r.unwrap_err();
        assert_eq!(e.close_code(), close_code::INVALID_PAYLOAD, "{e}");
    } else {
        // miniz_oxide reads an unseen window as zeros instead of failing.
        assert_eq!(r.unwrap(), [b'H', 0, 0, 0, 0]);
    }
}

#[test]
fn budget_exceeded_is_message_too_big() {
    let (_, mut dec) = codec();
    let e = dec
        .decode(
            frame_from_wire(&[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]),
            4,
        )
        .unwrap_err();
    assert_eq!(e.close_code(), close_code::MESSAGE_TOO_BIG);
    let (_, mut dec) = codec();
    let ok = dec
        .decode(
            frame_from_wire(&[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]),
            5,
        )
        .unwrap();
    assert_eq!(&ok.payload[..], b"Hello");
}

#[test]
fn offer_with_client_bits_but_response_without_uses_15() {
    let offer = OfferParams {
        client_max_window_bits: ClientMaxWindowBits::Bare,
        ..OfferParams::default()
    };
    let (mut enc, _) = codec_for(offer, ResponseParams::default(), no_skip());
    let f = enc.encode(Frame::new(true, OpCode::Text, "Hello")).unwrap();
    assert_eq!(&f.payload[..], [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
}
