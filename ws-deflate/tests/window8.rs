//! Window bits 8 (specs §B.5): our compressor, agreed to 8 bits, produces
//! streams a 256-byte-window inflater decodes: an independent decoder
//! (tests/common/puff.rs) checks every match distance is at most 256.
#![cfg(feature = "zlib-rs")]

mod common;

use common::*;
use ws_deflate::{ClientMaxWindowBits, DeflateConfig, OfferParams, ResponseParams};
use ws_ext_core::{Encoder, Frame, OpCode};

#[path = "common/puff.rs"]
mod puff;

/// Decode with the independent puff decoder, continuing `history`, and
/// return the output and the longest distance used.
fn inflate_checked(history: &[u8], data: &[u8]) -> (Vec<u8>, usize) {
    let mut input = data.to_vec();
    input.extend_from_slice(&[0, 0, 0xff, 0xff]);
    let p = puff::Puff::run(&input, history.to_vec()).expect("puff decodes");
    (p.out[history.len()..].to_vec(), p.max_dist)
}

/// Data whose repeats sit at every distance from 1 to ~2000 bytes.
fn repetitive(seed: u64) -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..60u64 {
        let chunk = text(seed * 100 + (i % 9), 20 + (i as usize * 37) % 300, 8);
        v.extend_from_slice(&chunk);
        v.extend_from_slice(&text(i, (i as usize * 13) % 40, 26));
    }
    v
}

#[test]
fn eight_bit_agreement_decodes_with_256_byte_window() {
    for level in [1u32, 3, 6, 9] {
        for mem_level in [1u8, 8, 9] {
            let offer = OfferParams {
                client_max_window_bits: ClientMaxWindowBits::Bare,
                ..OfferParams::default()
            };
            let resp = ResponseParams {
                client_max_window_bits: Some(8),
                ..ResponseParams::default()
            };
            let cfg = DeflateConfig::default()
                .with_level(level)
                .with_mem_level(mem_level)
                .with_skip_if_not_smaller(false);
            let (mut enc, _) = codec_for(offer, resp, cfg);
            let mut history = Vec::new();
            let mut longest = 0;
            for seed in 0..20 {
                let body = repetitive(seed);
                let wire = enc
                    .encode(Frame::new(true, OpCode::Binary, body.clone()))
                    .unwrap()
                    .payload;
                assert!(
                    wire.len() < body.len() * 3 / 4,
                    "still compresses: {} of {}",
                    wire.len(),
                    body.len()
                );
                let (got, max_dist) = inflate_checked(&history, &wire);
                assert_eq!(got, body);
                assert!(
                    max_dist <= 256,
                    "level {level} mem {mem_level}: distance {max_dist} > 256"
                );
                history.extend_from_slice(&body);
                longest = longest.max(max_dist);
            }
            // The 9-bit window is really used, up to zlib's MAX_DIST of 250.
            assert!(
                (200..=250).contains(&longest),
                "level {level} mem {mem_level}: longest {longest}"
            );
        }
    }
}

#[test]
fn negative_control_15_bit_stream_uses_long_distances() {
    let (mut enc, _) = codec_for(
        OfferParams::default(),
        ResponseParams::default(),
        DeflateConfig::default(),
    );
    let mut body = text(1, 1000, 255);
    body.extend_from_within(..1000);
    let wire = enc
        .encode(Frame::new(true, OpCode::Binary, body))
        .unwrap()
        .payload;
    let (_, max_dist) = inflate_checked(&[], &wire);
    assert!(
        max_dist >= 1000,
        "the checker sees long distances ({max_dist})"
    );
}
