//! The per-message compress path for small chat-like JSON messages: the
//! permessage-deflate encoder against zlib-rs called directly with the same
//! settings, in interleaved rounds (robust on a busy machine).
//!
//! `cargo run --release -p ws-deflate --example compress_1k [SIZE] [ROUNDS] [MSGS]`
//!
//! Prints, per window size, the median over the rounds of µs per message
//! for each side and of `time(encoder) / time(raw) - 1`. Also usable as a
//! steady workload for `perf record` / `valgrind --tool=callgrind`
//! (`ONLY=stack` or `ONLY=raw` runs one side only). `LEVEL=N` sets the
//! compression level of both (default 6).

use std::time::Instant;

use wsx_corpus as corpus;

use ws_deflate::backend::Compressor;
use ws_deflate::{DeflateConfig, PerMessageDeflateClient, PerMessageDeflateServer};
use ws_ext_core::{ClientNegotiator, Frame, OpCode, SendStack, ServerNegotiator};

fn arg(i: usize, default: usize) -> usize {
    std::env::args()
        .nth(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A server-side send stack negotiated with `bits` windows both ways.
fn stack(bits: u8, level: u32) -> SendStack {
    // The same compressor as the raw side (zlib-rs): this measures the
    // encoder's own overhead, not the native compressor.
    let cfg = DeflateConfig::default()
        .with_compressor(Compressor::Zlib)
        .with_level(level)
        .with_server_max_window_bits(Some(bits))
        .with_client_max_window_bits(Some(bits));
    let client = ClientNegotiator::new().with(PerMessageDeflateClient::new(cfg.clone()));
    let server = ServerNegotiator::new().with(PerMessageDeflateServer::new(cfg));
    let offer = client.offer_header().expect("offer");
    let s = server.negotiate([offer.as_bytes()]).expect("negotiate");
    s.split().0
}

struct Raw {
    z: zlib_rs::Deflate,
    out: Vec<u8>,
}

impl Raw {
    fn new(bits: u8, level: u32) -> Self {
        let cfg = zlib_rs::DeflateConfig {
            level: level as i32,
            window_bits: -i32::from(bits),
            mem_level: 8,
            ..zlib_rs::DeflateConfig::default()
        };
        Raw {
            z: zlib_rs::Deflate::new_with_config(cfg),
            out: vec![0; 64 << 10],
        }
    }

    fn compress(&mut self, m: &[u8]) -> usize {
        let o0 = self.z.total_out();
        self.z
            .compress(m, &mut self.out, zlib_rs::DeflateFlush::SyncFlush)
            .expect("compress");
        (self.z.total_out() - o0) as usize
    }
}

fn main() {
    let size = arg(1, 1024);
    let rounds = arg(2, 21);
    let count = arg(3, 2000);
    let only = std::env::var("ONLY").unwrap_or_default();
    let level: u32 = std::env::var("LEVEL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let msgs = corpus::messages(corpus::Kind::Chat, size, count, 7);
    let frames: Vec<Frame> = msgs
        .iter()
        .map(|m| Frame::new(true, OpCode::Text, m.clone()))
        .collect();
    println!("level {level}");
    println!("| window bits | size | raw µs/msg | encoder µs/msg | encoder overhead (median of {rounds}) | wire bytes/msg |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for bits in [15u8, 12] {
        let (mut rt, mut st, mut ov) = (Vec::new(), Vec::new(), Vec::new());
        let mut wire = 0;
        for _ in 0..rounds {
            let mut raw = Raw::new(bits, level);
            let mut tx = stack(bits, level);
            let t = Instant::now();
            if only != "stack" {
                for m in &msgs {
                    std::hint::black_box(raw.compress(m));
                }
            }
            let r = t.elapsed().as_secs_f64();
            let t = Instant::now();
            wire = 0;
            if only != "raw" {
                for f in &frames {
                    let out = tx.encode(f.clone()).expect("encode");
                    wire += out.payload.len();
                }
            }
            let s = t.elapsed().as_secs_f64();
            rt.push(r * 1e6 / count as f64);
            st.push(s * 1e6 / count as f64);
            ov.push(s / r - 1.0);
        }
        println!(
            "| {bits} | {size} | {:.2} | {:.2} | {:+.1}% | {} |",
            median(rt),
            median(st),
            100.0 * median(ov),
            wire / count
        );
    }
}
