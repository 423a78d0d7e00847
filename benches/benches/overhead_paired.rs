//! The pipeline overhead over the raw backend, measured in pairs so that a
//! shared, busy machine does not drown a few percent: each round times a
//! pass of the raw zlib-rs loop and, right after, a pass of the stack (and
//! of the engine) on the same messages; the figure is the median over the
//! rounds of `time(stack) / time(raw) - 1`. Same setup as the `overhead`
//! criterion target (level 6, 15-bit window, context takeover, chat-json).
//!
//! `cargo bench -p benches --bench overhead_paired` (ROUNDS=N to change the
//! 41 rounds). Prints a Markdown table.

use std::time::{Duration, Instant};

use benches::{encode_all, server_to_client, Backend, RawCompressor, RawDecompressor};
use bytes::BytesMut;
use ws_deflate::backend::Compressor;
use ws_deflate::DeflateConfig;
use wsx::proto::outbuf::OutBuf;
use wsx::proto::recv::{Read, Receiver};
use wsx::proto::send::Sender;
use wsx::proto::Role;

fn time(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is ignored.
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(41);
    // Overhead over raw zlib-rs: the stack runs the same compressor.
    let cfg = DeflateConfig::default().with_compressor(Compressor::Zlib);
    println!("| direction | size | raw MiB/s (median) | stack overhead (median of {rounds} paired rounds) | engine overhead |");
    println!("|---|---:|---:|---:|---:|");
    for size in [512usize, 4096, 64 << 10, 1 << 20] {
        let benches::ChatBatch {
            msgs,
            total,
            texts,
            frames,
        } = benches::chat_batch(size, 7);

        // Compress: each round starts all three from a fresh state.
        let (mut raw_t, mut st, mut en) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            let mut raw = RawCompressor::new(Backend::ZlibRs, 6, 15);
            let (mut tx, _) = server_to_client(&cfg);
            let mut sender = Sender::new(Role::Server, server_to_client(&cfg).0);
            let mut out = OutBuf::new();
            let r = time(|| {
                for m in &msgs {
                    std::hint::black_box(raw.compress(m));
                }
            });
            let s = time(|| {
                for f in &frames {
                    std::hint::black_box(tx.encode(f.clone()).expect("compress"));
                }
            });
            let e = time(|| {
                for m in &texts {
                    sender.encode_message(m.clone(), &mut out).expect("encode");
                    out.advance(out.len());
                }
            });
            raw_t.push(r.as_secs_f64());
            st.push(s.as_secs_f64() / r.as_secs_f64() - 1.0);
            en.push(e.as_secs_f64() / r.as_secs_f64() - 1.0);
        }
        println!(
            "| compress | {size} | {:.1} | {:+.1}% | {:+.1}% |",
            total as f64 / median(raw_t) / (1 << 20) as f64,
            100.0 * median(st),
            100.0 * median(en)
        );

        let wire = encode_all(&cfg, &msgs, true);
        let mut stream = OutBuf::new();
        let mut s = Sender::new(Role::Server, server_to_client(&cfg).0);
        for m in &texts {
            s.encode_message(m.clone(), &mut stream).expect("encode");
        }
        let mut bytes = Vec::new();
        while !stream.is_empty() {
            let n = stream.first_slice().len();
            bytes.extend_from_slice(stream.first_slice());
            stream.advance(n);
        }
        let (mut raw_t, mut st, mut en) = (Vec::new(), Vec::new(), Vec::new());
        let mut buf = Vec::new();
        for _ in 0..rounds {
            let mut d = RawDecompressor::new(Backend::ZlibRs);
            let (_, mut rx) = server_to_client(&cfg);
            let mut r2 = Receiver::new(Role::Client, server_to_client(&cfg).1, 64 << 20, 64 << 20);
            let mut input = BytesMut::from(&bytes[..]);
            let r = time(|| {
                for (f, m) in wire.iter().zip(&msgs) {
                    std::hint::black_box(d.decompress(&f.payload, &mut buf, m.len()));
                }
            });
            let s = time(|| {
                for f in &wire {
                    std::hint::black_box(rx.decode(f.clone(), usize::MAX).expect("inflate"));
                }
            });
            let e = time(|| {
                while let Read::Message(m) = r2.read(&mut input).expect("read") {
                    std::hint::black_box(m);
                }
            });
            raw_t.push(r.as_secs_f64());
            st.push(s.as_secs_f64() / r.as_secs_f64() - 1.0);
            en.push(e.as_secs_f64() / r.as_secs_f64() - 1.0);
        }
        println!(
            "| decompress | {size} | {:.1} | {:+.1}% | {:+.1}% |",
            total as f64 / median(raw_t) / (1 << 20) as f64,
            100.0 * median(st),
            100.0 * median(en)
        );
    }
}
