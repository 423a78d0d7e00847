//! The overhead of wsx's permessage-deflate pipeline over calling the
//! backend (zlib-rs) directly on the same messages with the same settings
//! (level 6, 15-bit window, memLevel 8, context takeover, sync flush per
//! message, trailer stripped/appended).
//!
//! Three rows per size and direction:
//! - `raw`: `zlib_rs::Deflate` / `zlib_rs::Inflate` into a reused buffer;
//! - `stack`: the negotiated ws-ext-core stack (`SendStack::encode` /
//!   `RecvStack::decode`): the extension as any host runs it;
//! - `engine`: wsx's sans-I/O engine around it (`Sender::encode_message`
//!   into the write queue / `Receiver::read` from the read buffer), which
//!   adds frame headers, parsing and UTF-8 validation of the text.
//!
//! `cargo bench -p benches --bench overhead`; the overhead is
//! `time(stack) / time(raw) - 1`.

mod common;

use benches::{encode_all, server_to_client, Backend, RawCompressor, RawDecompressor};
use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use ws_deflate::backend::Compressor;
use ws_deflate::DeflateConfig;
use wsx::proto::outbuf::OutBuf;
use wsx::proto::recv::{Read, Receiver};
use wsx::proto::send::Sender;
use wsx::proto::Role;

const SEED: u64 = 7;

fn overhead(c: &mut Criterion) {
    // Overhead over raw zlib-rs: the stack runs the same compressor.
    let cfg = DeflateConfig::default().with_compressor(Compressor::Zlib);
    for size in [512usize, 4096, 64 << 10, 1 << 20] {
        let benches::ChatBatch {
            msgs,
            total,
            texts,
            frames,
        } = benches::chat_batch(size, SEED);
        let id = format!("chat-json/{size}");

        let mut g = c.benchmark_group("overhead/compress");
        g.throughput(Throughput::Bytes(total as u64));
        let mut raw = RawCompressor::new(Backend::ZlibRs, 6, 15);
        g.bench_function(BenchmarkId::new("raw", &id), |b| {
            b.iter(|| {
                for m in &msgs {
                    std::hint::black_box(raw.compress(m));
                }
            })
        });
        let (mut tx, _) = server_to_client(&cfg);
        g.bench_function(BenchmarkId::new("stack", &id), |b| {
            b.iter(|| {
                for f in &frames {
                    std::hint::black_box(tx.encode(f.clone()).expect("compress"));
                }
            })
        });
        let mut sender = Sender::new(Role::Server, server_to_client(&cfg).0);
        let mut out = OutBuf::new();
        g.bench_function(BenchmarkId::new("engine", &id), |b| {
            b.iter(|| {
                for m in &texts {
                    sender.encode_message(m.clone(), &mut out).expect("encode");
                    std::hint::black_box(out.first_slice());
                    out.advance(out.len());
                }
            })
        });
        g.finish();

        let wire = encode_all(&cfg, &msgs, true);
        let mut wire_bytes = OutBuf::new();
        {
            let mut s = Sender::new(Role::Server, server_to_client(&cfg).0);
            for m in &texts {
                s.encode_message(m.clone(), &mut wire_bytes)
                    .expect("encode");
            }
        }
        let mut stream = Vec::with_capacity(wire_bytes.len());
        while !wire_bytes.is_empty() {
            let n = wire_bytes.first_slice().len();
            stream.extend_from_slice(wire_bytes.first_slice());
            wire_bytes.advance(n);
        }
        let mut g = c.benchmark_group("overhead/decompress");
        g.throughput(Throughput::Bytes(total as u64));
        let mut buf = Vec::new();
        g.bench_function(BenchmarkId::new("raw", &id), |b| {
            b.iter_batched(
                || RawDecompressor::new(Backend::ZlibRs),
                |mut d| {
                    for (f, m) in wire.iter().zip(&msgs) {
                        std::hint::black_box(d.decompress(&f.payload, &mut buf, m.len()));
                    }
                },
                BatchSize::PerIteration,
            )
        });
        g.bench_function(BenchmarkId::new("stack", &id), |b| {
            b.iter_batched(
                || server_to_client(&cfg).1,
                |mut rx| {
                    for f in &wire {
                        std::hint::black_box(rx.decode(f.clone(), usize::MAX).expect("inflate"));
                    }
                },
                BatchSize::PerIteration,
            )
        });
        g.bench_function(BenchmarkId::new("engine", &id), |b| {
            b.iter_batched(
                || {
                    let rx = server_to_client(&cfg).1;
                    (
                        Receiver::new(Role::Client, rx, 64 << 20, 64 << 20),
                        BytesMut::from(&stream[..]),
                    )
                },
                |(mut r, mut buf)| {
                    let mut n = 0;
                    while let Read::Message(m) = r.read(&mut buf).expect("read") {
                        std::hint::black_box(m);
                        n += 1;
                    }
                    assert_eq!(n, msgs.len());
                },
                BatchSize::PerIteration,
            )
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = overhead
}
criterion_main!(benches);
