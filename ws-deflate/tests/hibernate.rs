//! Context hibernation: a quiet context-takeover connection gives its
//! compressor and decompressor back and keeps only its packed window; the
//! next messages decode exactly, in both directions, whatever the window
//! bits, however often it hibernates, and even mid-way through fragmented
//! traffic (where hibernation must do nothing).

mod common;

use common::*;
use ws_deflate::DeflateConfig;
use ws_ext_core::{Decoder, Encoder, Frame, OpCode};

/// Chat-like messages that refer back to earlier ones (so a wrong window
/// after a restore would show), of sizes 0..~3 KiB.
fn chat(i: u64) -> Vec<u8> {
    let users = ["ana", "bartholomew", "chen", "dmitri", "eve"];
    let mut m = format!(
        "{{\"type\":\"message\",\"id\":{},\"user\":\"{}\",\"text\":\"",
        100_000 + i * 7,
        users[(i % 5) as usize]
    )
    .into_bytes();
    m.extend_from_slice(&text(i, (i as usize * 37) % 3000, 6));
    m.extend_from_slice(b"\"}");
    m
}

fn config(bits: u8) -> DeflateConfig {
    DeflateConfig::default()
        .with_server_max_window_bits(Some(bits))
        .with_client_max_window_bits(Some(bits))
}

/// Hibernation needs set-dictionary, which the miniz_oxide backend lacks.
const HIBERNATES: bool = ws_deflate::backend::CAN_HIBERNATE;

#[test]
fn messages_decode_exactly_across_hibernations_both_ways() {
    for bits in [9u8, 12, 15] {
        let cfg = config(bits);
        let Some(((mut c_enc, mut c_dec), (mut s_enc, mut s_dec))) = try_pair(&cfg, &cfg) else {
            // Only miniz_oxide declines (it cannot limit its window).
            assert_eq!(ws_deflate::backend::BACKEND, "miniz_oxide");
            continue;
        };
        for i in 0..300u64 {
            let m = chat(i);
            // Client to server.
            let (got, _) = through(
                &mut c_enc,
                &mut s_dec,
                vec![Frame::new(true, OpCode::Text, m.clone())],
                1 << 20,
            );
            assert_eq!(got, m, "client->server message {i}, {bits} bits");
            // Server to client.
            let (got, _) = through(
                &mut s_enc,
                &mut c_dec,
                vec![Frame::new(true, OpCode::Text, m.clone())],
                1 << 20,
            );
            assert_eq!(got, m, "server->client message {i}, {bits} bits");
            // The server's connection goes quiet now and then.
            // (Not after the first message: it is too short to compress,
            // is sent as is and resets the context, leaving no window.)
            if i % 7 == 3 || i % 11 == 10 {
                s_enc.hibernate();
                s_dec.hibernate();
                assert!(!s_enc.holds_state() || !HIBERNATES);
                assert!(!s_dec.holds_state() || !HIBERNATES);
                assert_eq!(s_enc.is_hibernated(), HIBERNATES);
                assert_eq!(s_dec.is_hibernated(), HIBERNATES);
                // A second call while hibernated changes nothing.
                s_enc.hibernate();
                s_dec.hibernate();
            }
        }
    }
}

#[test]
fn a_restored_compressor_still_refers_back_across_the_gap() {
    // The same message again after hibernating must still compress to a
    // few bytes: the restored window holds it.
    let cfg = DeflateConfig::default();
    let ((_, mut c_dec), (mut s_enc, _)) = pair(&cfg, &cfg);
    let m = chat(5);
    let (_, first) = through(
        &mut s_enc,
        &mut c_dec,
        vec![Frame::new(true, OpCode::Text, m.clone())],
        1 << 20,
    );
    s_enc.hibernate();
    let (got, again) = through(
        &mut s_enc,
        &mut c_dec,
        vec![Frame::new(true, OpCode::Text, m.clone())],
        1 << 20,
    );
    assert_eq!(got, m);
    if HIBERNATES {
        assert!(
            again < 20 && again * 10 < first,
            "{again} bytes after a restore (first time {first})"
        );
    }
}

#[test]
fn hibernation_inside_a_fragmented_message_does_nothing() {
    let cfg = DeflateConfig::default();
    let ((mut c_enc, _), (_, mut s_dec)) = pair(&cfg, &cfg);
    let m = chat(42);
    let frames = fragment(OpCode::Text, &m, &[10, 200, 900]);
    let mut out = Vec::new();
    for f in frames {
        let fin = f.fin;
        let e = c_enc.encode(f).unwrap();
        let d = s_dec.decode(e, 1 << 20).unwrap();
        out.extend_from_slice(&d.payload);
        if !fin {
            c_enc.hibernate();
            s_dec.hibernate();
            assert!(c_enc.holds_state() && s_dec.holds_state());
            assert!(!c_enc.is_hibernated() && !s_dec.is_hibernated());
        }
    }
    assert_eq!(out, m);
    // Between messages it applies.
    c_enc.hibernate();
    s_dec.hibernate();
    assert_eq!(c_enc.is_hibernated(), HIBERNATES);
    let m2 = chat(43);
    let (got, _) = through(
        &mut c_enc,
        &mut s_dec,
        vec![Frame::new(true, OpCode::Text, m2.clone())],
        1 << 20,
    );
    assert_eq!(got, m2);
}

#[test]
fn disabled_or_without_context_nothing_is_kept() {
    let off = DeflateConfig::default().with_hibernate(false);
    let ((mut c_enc, _), (_, mut s_dec)) = pair(&off, &off);
    let m = chat(20);
    through(
        &mut c_enc,
        &mut s_dec,
        vec![Frame::new(true, OpCode::Text, m.clone())],
        1 << 20,
    );
    c_enc.hibernate();
    s_dec.hibernate();
    assert!(
        c_enc.holds_state() && s_dec.holds_state(),
        "hibernate: false"
    );
    assert!(!c_enc.is_hibernated() && !s_dec.is_hibernated());

    // An untouched connection has nothing to hibernate.
    let ((mut c_enc, mut c_dec), _) = pair(&DeflateConfig::default(), &DeflateConfig::default());
    c_enc.hibernate();
    c_dec.hibernate();
    assert!(!c_enc.is_hibernated() && !c_dec.is_hibernated());
}

#[test]
fn a_skipped_message_resets_the_kept_window_too() {
    // An incompressible message goes uncompressed and resets the context;
    // the window kept for hibernation must forget it as well.
    let cfg = DeflateConfig::default();
    let ((mut c_enc, _), (_, mut s_dec)) = pair(&cfg, &cfg);
    for i in 0..20u64 {
        let m = if i % 3 == 1 {
            text(i, 300, 255) // incompressible: sent as is
        } else {
            chat(i)
        };
        let (got, _) = through(
            &mut c_enc,
            &mut s_dec,
            vec![Frame::new(true, OpCode::Binary, m.clone())],
            1 << 20,
        );
        assert_eq!(got, m, "message {i}");
        c_enc.hibernate();
        s_dec.hibernate();
    }
}
