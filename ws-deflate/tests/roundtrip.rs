//! Round trips over every parameter combination, random messages split into
//! random fragments, both directions; context takeover across thousands of
//! messages.

mod common;

use common::*;
use quickcheck::{Arbitrary, Gen, QuickCheck};
use ws_deflate::backend::Tune;
use ws_deflate::DeflateConfig;
use ws_ext_core::{Encoder, Frame, OpCode, RsvBits};

const BITS: [Option<u8>; 5] = [None, Some(8), Some(9), Some(12), Some(15)];
/// The level's own search, greedy and shallow, deep.
const TUNES: [Option<Tune>; 4] = [
    None,
    None,
    Some(Tune {
        good: 4,
        lazy: 4,
        nice: 8,
        chain: 1,
    }),
    Some(Tune {
        good: 32,
        lazy: 258,
        nice: 258,
        chain: 64,
    }),
];

#[derive(Debug, Clone)]
struct Params {
    client: DeflateConfig,
    server: DeflateConfig,
}

impl Arbitrary for Params {
    fn arbitrary(g: &mut Gen) -> Self {
        let mut c = || {
            DeflateConfig::default()
                .with_level(*g.choose(&[0, 1, 6, 9]).unwrap())
                .with_server_max_window_bits(*g.choose(&BITS).unwrap())
                .with_client_max_window_bits(*g.choose(&BITS).unwrap())
                .with_server_no_context_takeover(bool::arbitrary(g))
                .with_client_no_context_takeover(bool::arbitrary(g))
                .with_compress_threshold(*g.choose(&[0, 0, 10, 300]).unwrap())
                .with_mem_level(*g.choose(&[1, 4, 8, 9]).unwrap())
                .with_skip_if_not_smaller(bool::arbitrary(g))
                .with_fallback_offers(Vec::new())
                .with_pool_capacity(*g.choose(&[0, 2]).unwrap())
                .with_hibernate(bool::arbitrary(g))
                .with_tune(*g.choose(&TUNES).unwrap())
        };
        Params {
            client: c(),
            server: c(),
        }
    }
}

#[derive(Debug, Clone)]
struct Msg {
    binary: bool,
    body: Vec<u8>,
    cuts: Vec<usize>,
    /// The connection goes quiet after this message (both ends hibernate).
    quiet_after: bool,
}

impl Arbitrary for Msg {
    fn arbitrary(g: &mut Gen) -> Self {
        let len = match u8::arbitrary(g) % 8 {
            0 => 0,
            1..=4 => usize::arbitrary(g) % 200,
            5 | 6 => usize::arbitrary(g) % 5000,
            _ => usize::arbitrary(g) % 70_000,
        };
        let alphabet = *g.choose(&[1u8, 4, 26, 255]).unwrap();
        let body = text(u64::arbitrary(g), len, alphabet);
        let ncuts = usize::arbitrary(g) % 5;
        let cuts = (0..ncuts).map(|_| usize::arbitrary(g)).collect();
        Msg {
            binary: bool::arbitrary(g),
            body,
            cuts,
            quiet_after: u8::arbitrary(g) % 3 == 0,
        }
    }
}

fn run(p: &Params, msgs: &[Msg]) -> bool {
    let Some(((mut cenc, mut cdec), (mut senc, mut sdec))) = try_pair(&p.client, &p.server) else {
        // Only the miniz_oxide backend declines (a server window limit).
        return !ws_deflate::backend::LIMITS_COMPRESSOR_WINDOW;
    };
    for m in msgs {
        let op = if m.binary {
            OpCode::Binary
        } else {
            OpCode::Text
        };
        let (got, _) = through(
            &mut cenc,
            &mut sdec,
            fragment(op, &m.body, &m.cuts),
            usize::MAX,
        );
        if got != m.body {
            return false;
        }
        let (got, _) = through(
            &mut senc,
            &mut cdec,
            fragment(op, &m.body, &m.cuts),
            m.body.len(),
        );
        if got != m.body {
            return false;
        }
        if m.quiet_after {
            use ws_ext_core::{Decoder, Encoder};
            cenc.hibernate();
            cdec.hibernate();
            senc.hibernate();
            sdec.hibernate();
        }
    }
    true
}

#[test]
fn quickcheck_round_trips() {
    fn prop(p: Params, msgs: Vec<Msg>) -> bool {
        run(&p, &msgs)
    }
    QuickCheck::new()
        .tests(60)
        .rng(Gen::new(12))
        .quickcheck(prop as fn(Params, Vec<Msg>) -> bool);
}

/// Every negotiable combination of the four parameters, each with a seeded
/// workload of fragmented messages in both directions.
#[test]
fn every_parameter_combination_round_trips() {
    let mut combos = 0;
    for snct in [false, true] {
        for cnct in [false, true] {
            for smwb in BITS {
                for cmwb in BITS {
                    let client = DeflateConfig::default()
                        .with_server_no_context_takeover(snct)
                        .with_client_no_context_takeover(cnct)
                        .with_server_max_window_bits(smwb)
                        .with_client_max_window_bits(cmwb);
                    let server = DeflateConfig::default()
                        .with_server_max_window_bits(smwb)
                        .with_client_max_window_bits(cmwb);
                    let seed = combos as u64 * 7919 + 1;
                    let msgs: Vec<Msg> = (0..12u64)
                        .map(|i| Msg {
                            binary: i % 2 == 0,
                            body: text(
                                seed + i,
                                [0, 5, 300, 2000, 40_000][(i % 5) as usize],
                                [3, 26, 200][(i % 3) as usize],
                            ),
                            cuts: (0..(i % 4) as usize)
                                .map(|k| (seed as usize + k * 977) % 50_000)
                                .collect(),
                            quiet_after: i % 4 == 1,
                        })
                        .collect();
                    assert!(
                        run(&Params { client, server }, &msgs),
                        "snct {snct} cnct {cnct} smwb {smwb:?} cmwb {cmwb:?}"
                    );
                    combos += 1;
                }
            }
        }
    }
    assert_eq!(combos, 100);
}

#[test]
fn context_takeover_across_thousands_of_messages() {
    // Level 6: at level 1 (static Huffman codes) a short message of random
    // letters cut into frames no longer shrinks on its own, which is what
    // the second assertion checks.
    let l6 = DeflateConfig::default().with_level(6);
    let ((mut kept_enc, _), (_, mut kept_dec)) = pair(&l6, &l6);
    let reset_cfg = l6.clone().with_client_no_context_takeover(true);
    let ((mut reset_enc, _), (_, mut reset_dec)) = pair(&reset_cfg, &l6);
    let (mut kept_wire, mut reset_wire, mut raw) = (0, 0, 0);
    for i in 0..5000u64 {
        // JSON-like messages that share most of their text with earlier ones.
        let body = format!(
            "{{\"id\":{i},\"user\":\"user-{}\",\"event\":\"{}\",\"payload\":\"{}\"}}",
            i % 37,
            ["open", "click", "scroll", "close"][(i % 4) as usize],
            String::from_utf8(text(i % 50, 40 + (i % 60) as usize, 26)).unwrap()
        );
        let frames = fragment(OpCode::Text, body.as_bytes(), &[i as usize % 7 * 13]);
        let (got, w) = through(&mut kept_enc, &mut kept_dec, frames.clone(), 1 << 20);
        assert_eq!(got, body.as_bytes(), "message {i} (context kept)");
        kept_wire += w;
        let (got, w) = through(&mut reset_enc, &mut reset_dec, frames, 1 << 20);
        assert_eq!(got, body.as_bytes(), "message {i} (no context takeover)");
        reset_wire += w;
        raw += body.len();
    }
    // Kept context pays: much better than per-message reset, which still
    // beats sending raw.
    assert!(
        kept_wire * 2 < reset_wire,
        "kept {kept_wire} reset {reset_wire}"
    );
    assert!(reset_wire < raw, "reset {reset_wire} raw {raw}");
}

#[test]
fn non_shrinking_message_goes_uncompressed_without_desync() {
    let cfg = DeflateConfig::default();
    let ((mut enc, _), (_, mut dec)) = pair(&cfg, &cfg);
    let mut sent_plain = 0;
    for i in 0..300u64 {
        // Alternate incompressible and very compressible messages; the
        // compressible ones refer back to earlier ones.
        let body = if i % 3 == 0 {
            text(i, 600, 255)
        } else {
            text(i % 5, 600, 3)
        };
        let e = enc
            .encode(Frame::new(true, OpCode::Binary, body.clone()))
            .unwrap();
        if !e.rsv.contains(RsvBits::RSV1) {
            sent_plain += 1;
            assert_eq!(e.payload, body, "an uncompressed message is the message");
        }
        let d = ws_ext_core::Decoder::decode(&mut dec, e, 1 << 20).unwrap();
        assert_eq!(d.payload, body, "message {i}");
    }
    assert!(
        sent_plain >= 90,
        "incompressible messages were sent plain ({sent_plain})"
    );
}

#[test]
fn threshold_sends_small_messages_plain() {
    let cfg = DeflateConfig::default().with_compress_threshold(100);
    let ((mut enc, _), (_, mut dec)) = pair(&cfg, &cfg);
    for len in [0usize, 50, 99, 100, 500] {
        let body = vec![b'a'; len];
        let e = enc
            .encode(Frame::new(true, OpCode::Text, body.clone()))
            .unwrap();
        assert_eq!(e.rsv.contains(RsvBits::RSV1), len >= 100, "len {len}");
        let d = ws_ext_core::Decoder::decode(&mut dec, e, 1 << 20).unwrap();
        assert_eq!(d.payload, body);
    }
}
