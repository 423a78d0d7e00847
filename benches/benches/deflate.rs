//! permessage-deflate throughput through the extension stack (what a wsx
//! connection runs), by message size, corpus and setting; and the two
//! compression backends called directly.
//!
//! `cargo bench -p benches --bench deflate` (add `-- --warm-up-time 1
//! --measurement-time 2` for a quick run). Throughput is in uncompressed
//! bytes. Each iteration passes a batch of distinct messages (at least
//! 64 KiB, so a kept context cannot just match the previous copy of the
//! same message); decompression starts each batch with a fresh receiver
//! (created outside the timed part) because a kept context must see the
//! stream from its start.

mod common;

use benches::corpus::{self, Kind};
use benches::{encode_all, server_to_client, settings, Backend, RawCompressor, RawDecompressor};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use ws_deflate::DeflateConfig;
use ws_ext_core::{Frame, OpCode};

const BATCH_BYTES: usize = 64 << 10;
const SEED: u64 = 42;

fn frames_of(messages: &[Vec<u8>], text: bool) -> Vec<Frame> {
    let op = if text { OpCode::Text } else { OpCode::Binary };
    messages
        .iter()
        .map(|m| Frame::new(true, op, m.clone()))
        .collect()
}

/// Bench compress and decompress of one (corpus, size, setting) point.
fn stack_point(
    c: &mut Criterion,
    group: &str,
    id: String,
    kind: Kind,
    size: usize,
    cfg: &DeflateConfig,
) {
    let msgs = corpus::batch(kind, size, BATCH_BYTES, 1024, SEED);
    let total: usize = msgs.iter().map(Vec::len).sum();
    let frames = frames_of(&msgs, kind.is_text());
    let wire = encode_all(cfg, &msgs, kind.is_text());
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Bytes(total as u64));
    let (mut tx, _) = server_to_client(cfg);
    g.bench_function(BenchmarkId::new("compress", &id), |b| {
        b.iter(|| {
            for f in &frames {
                let out = tx.encode(f.clone()).expect("compress");
                std::hint::black_box(out);
            }
        })
    });
    g.bench_function(BenchmarkId::new("decompress", &id), |b| {
        b.iter_batched(
            || server_to_client(cfg).1,
            |mut rx| {
                for f in &wire {
                    let out = rx.decode(f.clone(), usize::MAX).expect("decompress");
                    std::hint::black_box(out);
                }
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn by_size(c: &mut Criterion) {
    for size in benches::SIZES {
        stack_point(
            c,
            "deflate/size",
            format!("chat-json/{size}"),
            Kind::Chat,
            size,
            &DeflateConfig::default(),
        );
    }
}

fn by_corpus(c: &mut Criterion) {
    for kind in Kind::ALL {
        stack_point(
            c,
            "deflate/corpus",
            format!("{}/4096", kind.name()),
            kind,
            4096,
            &DeflateConfig::default(),
        );
    }
}

fn by_setting(c: &mut Criterion) {
    for s in settings() {
        stack_point(
            c,
            "deflate/setting",
            format!("{}/chat-json/4096", s.name),
            Kind::Chat,
            4096,
            &s.cfg,
        );
    }
}

/// The backends called directly (no extension stack), level 6, window 15.
fn by_backend(c: &mut Criterion) {
    for size in [512usize, 4096, 64 << 10] {
        let msgs = corpus::batch(Kind::Chat, size, BATCH_BYTES, 1024, SEED);
        let total: usize = msgs.iter().map(Vec::len).sum();
        let mut g = c.benchmark_group("deflate/backend");
        g.throughput(Throughput::Bytes(total as u64));
        for backend in Backend::ALL {
            let id = format!("{}/chat-json/{size}", backend.name());
            let mut comp = RawCompressor::new(backend, 6, 15);
            g.bench_function(BenchmarkId::new("compress", &id), |b| {
                b.iter(|| {
                    for m in &msgs {
                        std::hint::black_box(comp.compress(m));
                    }
                })
            });
            let mut enc = RawCompressor::new(backend, 6, 15);
            let wire: Vec<Vec<u8>> = msgs.iter().map(|m| enc.compress(m).to_vec()).collect();
            let mut out = Vec::new();
            g.bench_function(BenchmarkId::new("decompress", &id), |b| {
                b.iter_batched(
                    || RawDecompressor::new(backend),
                    |mut d| {
                        for (z, m) in wire.iter().zip(&msgs) {
                            std::hint::black_box(d.decompress(z, &mut out, m.len()));
                        }
                    },
                    BatchSize::PerIteration,
                )
            });
        }
        g.finish();
    }
}

criterion_group! {
    name = deflate;
    config = common::config();
    targets = by_size, by_corpus, by_setting, by_backend
}
criterion_main!(deflate);
