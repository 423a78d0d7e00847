//! `Tune` (zlib's deflateTune knobs) on both compressors: the level's own
//! values reproduce the level, other values change the search, the output
//! still inflates, and a reset keeps the tuning.

use ws_deflate::backend::{Compressor, Deflater, DeflaterParams, Inflater, Tune};

fn params(compressor: Compressor, level: u32, tune: Option<Tune>) -> DeflaterParams {
    DeflaterParams {
        level,
        window_bits: 15,
        mem_level: 8,
        compressor,
        tune,
    }
}

/// Compress `msgs` as one stream; check each message inflates back; the
/// compressed bytes, message by message.
fn stream(d: &mut Deflater, msgs: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut inf = Inflater::new();
    msgs.iter()
        .map(|m| {
            let z = d.compress_sync(m).expect("compresses").to_vec();
            let mut out = Vec::new();
            inf.inflate(&z, &mut out, usize::MAX).expect("inflates");
            assert_eq!(&out, m);
            z
        })
        .collect()
}

const fn tune(good: u16, lazy: u16, nice: u16, chain: u16) -> Tune {
    Tune {
        good,
        lazy,
        nice,
        chain,
    }
}

#[test]
fn a_levels_own_values_reproduce_it_and_others_change_the_search() {
    let msgs = wsx_corpus::messages(wsx_corpus::Kind::Chat, 600, 120, 5);
    // (compressor, level, the level's own search, another search)
    let mut cases = vec![
        (
            Compressor::Native,
            1,
            tune(16, 32, 32, 2),
            tune(4, 258, 258, 64),
        ),
        (
            Compressor::Native,
            2,
            tune(16, 32, 128, 8),
            tune(4, 4, 8, 1),
        ),
    ];
    // zlib-rs and C zlib take the knobs (miniz_oxide has none): zlib's
    // configuration table, level 6, is good 8, lazy 16, nice 128, chain 128.
    if cfg!(feature = "zlib-rs") {
        cases.push((Compressor::Zlib, 6, tune(8, 16, 128, 128), tune(4, 4, 8, 1)));
    }
    for (compressor, level, own, other) in cases {
        let plain = stream(&mut Deflater::new(params(compressor, level, None)), &msgs);
        let same = stream(
            &mut Deflater::new(params(compressor, level, Some(own))),
            &msgs,
        );
        assert_eq!(
            plain, same,
            "{compressor:?} level {level} with its own search"
        );
        let mut tuned = Deflater::new(params(compressor, level, Some(other)));
        let changed = stream(&mut tuned, &msgs);
        let (a, b): (usize, usize) = (
            plain.iter().map(Vec::len).sum(),
            changed.iter().map(Vec::len).sum(),
        );
        assert_ne!(a, b, "{compressor:?} level {level} tuned {other:?}");
        // After a reset the tuning still holds: the same output as a fresh
        // tuned compressor.
        tuned.reset();
        assert_eq!(
            stream(&mut tuned, &msgs),
            changed,
            "{compressor:?} after reset"
        );
    }
}

#[test]
fn out_of_range_tunings_are_refused_by_the_config() {
    let cfg = ws_deflate::DeflateConfig::default();
    for bad in [
        tune(8, 16, 2, 4),
        tune(8, 16, 300, 4),
        tune(8, 16, 64, 0),
        tune(300, 16, 64, 4),
    ] {
        assert!(
            cfg.clone().with_tune(Some(bad)).validate().is_err(),
            "{bad:?}"
        );
    }
    assert!(cfg.with_tune(Some(tune(8, 16, 64, 4))).validate().is_ok());
}
