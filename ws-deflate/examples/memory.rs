//! Measure the memory one permessage-deflate connection holds, per mode,
//! with a counting global allocator.
//!
//! `cargo run --release -p ws-deflate --example memory` (`MSG_SIZE=1024`
//! for other message sizes, `MSGS=10` for more messages per connection)
//!
//! For each mode, 200 server-side connections are negotiated and each
//! receives and sends one 4 KiB JSON-like message (by default), so every lazily created
//! state exists; the table shows the bytes held per connection after that
//! (while the connection is idle), and what the factory's pool holds in
//! total (shared by all connections).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use ws_deflate::{DeflateConfig, PerMessageDeflateClient, PerMessageDeflateServer};
use ws_ext_core::{ClientNegotiator, Frame, OpCode, RecvStack, SendStack, ServerNegotiator};

struct Counting;
static CURRENT: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        CURRENT.fetch_add(l.size(), Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        CURRENT.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

const CONNS: usize = 200;

/// The size of the messages (`MSG_SIZE`, default 4096 bytes).
fn msg_size() -> usize {
    std::env::var("MSG_SIZE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4096)
}

/// Messages each way per connection (`MSGS`, default 1).
fn msgs_per_conn() -> usize {
    std::env::var("MSGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

fn message(i: usize) -> String {
    let mut s = String::from("[");
    while s.len() < msg_size() {
        s.push_str(&format!(
            "{{\"id\":{i},\"name\":\"item-{}\",\"tags\":[\"a\",\"b{}\"],\"ok\":true}},",
            s.len() % 97,
            s.len() % 13
        ));
    }
    s.push(']');
    s
}

/// Returns (bytes per idle connection, bytes in the shared pool).
fn measure(offer_cfg: &DeflateConfig, server_cfg: &DeflateConfig) -> (usize, usize) {
    let client = ClientNegotiator::new().with(PerMessageDeflateClient::new(offer_cfg.clone()));
    let offer = client.offer_header().unwrap();
    let factory = PerMessageDeflateServer::new(server_cfg.clone());
    let pool = factory.pool().clone();
    let server = ServerNegotiator::new().with(factory);
    // One compressed message per server connection, each from a fresh
    // client (a kept context would make later ones refer to earlier ones).
    let mut conns: Vec<(SendStack, RecvStack)> = Vec::new();
    let mut inputs = Vec::new();
    for i in 0..CONNS {
        let s = server.negotiate([offer.as_bytes()]).unwrap();
        let c = client
            .finish([s.response_header().unwrap().as_bytes()])
            .unwrap();
        let (mut ctx, _) = c.split();
        let frames: Vec<Frame> = (0..msgs_per_conn())
            .map(|k| {
                ctx.encode(Frame::new(true, OpCode::Text, message(i + k)))
                    .unwrap()
            })
            .collect();
        inputs.push(frames);
    }
    let before = CURRENT.load(Ordering::Relaxed);
    let pool_before = pool.idle();
    for (i, frames) in inputs.into_iter().enumerate() {
        let stack = server.negotiate([offer.as_bytes()]).unwrap();
        let (mut tx, mut rx) = stack.split();
        for (k, input) in frames.into_iter().enumerate() {
            let got = rx.decode(input, 1 << 20).unwrap();
            drop(got);
            let sent = tx
                .encode(Frame::new(true, OpCode::Text, message(i + k)))
                .unwrap();
            drop(sent);
        }
        conns.push((tx, rx));
    }
    let after = CURRENT.load(Ordering::Relaxed);
    let pool_after = pool.idle();
    let total = (after as isize - before as isize).max(0) as usize;
    // Estimate the pool's share from a fresh measurement of one state each.
    let pool_states = (pool_after.0 + pool_after.1).saturating_sub(pool_before.0 + pool_before.1);
    drop(conns);
    let per_conn_with_pool = total / CONNS;
    (per_conn_with_pool, pool_states)
}

fn main() {
    let d = DeflateConfig::default;
    let nct_both = d()
        .with_server_no_context_takeover(true)
        .with_client_no_context_takeover(true);
    let rows: Vec<(&str, DeflateConfig, DeflateConfig)> = vec![
        (
            "context takeover both ways, 15 bits, memLevel 8 (default)",
            d(),
            d(),
        ),
        (
            "context takeover, 15 bits, memLevel 1",
            d(),
            d().with_mem_level(1),
        ),
        (
            "context takeover, 15 bits, memLevel 4",
            d(),
            d().with_mem_level(4),
        ),
        (
            "context takeover, server window 9 bits, memLevel 1",
            d(),
            d().with_server_max_window_bits(Some(9)).with_mem_level(1),
        ),
        (
            "server_no_context_takeover (compressor pooled), client keeps",
            d(),
            d().with_server_no_context_takeover(true),
        ),
        (
            "client_no_context_takeover (inflater pooled), server keeps",
            d(),
            d().with_client_no_context_takeover(true),
        ),
        (
            "no context takeover both ways (both pooled)",
            nct_both.clone(),
            nct_both.clone(),
        ),
        (
            "no context takeover both ways, pool disabled",
            nct_both.clone(),
            nct_both.clone().with_pool_capacity(0),
        ),
    ];
    println!("backend: {}", ws_deflate::backend::BACKEND);
    println!("| mode | bytes held per idle connection | states in the shared pool |");
    println!("|---|---|---|");
    for (name, c, s) in rows {
        let (per, pooled) = measure(&c, &s);
        println!(
            "| {name} | {per} ({:.1} KiB) | {pooled} |",
            per as f64 / 1024.0
        );
    }
    // One compressor and one decompressor, alone.
    for (label, cfg) in [
        ("compressor 15 bits memLevel 8", (15u8, 8u8)),
        ("compressor 15 bits memLevel 1", (15, 1)),
        ("compressor 9 bits memLevel 1", (9, 1)),
    ] {
        let before = CURRENT.load(Ordering::Relaxed);
        let d = ws_deflate::backend::Deflater::new(ws_deflate::backend::DeflaterParams {
            level: 6,
            window_bits: cfg.0,
            mem_level: cfg.1,
            compressor: ws_deflate::backend::Compressor::Zlib,
            tune: None,
        });
        let n = CURRENT.load(Ordering::Relaxed) - before;
        drop(d);
        println!("{label}: {n} bytes ({:.1} KiB)", n as f64 / 1024.0);
    }
    // The native compressor's window buffer grows with the stream: measured
    // after one 4 KiB message and after 64 KiB of messages.
    for (label, bits, msgs) in [
        ("native compressor 15 bits, after 4 KiB", 15u8, 1usize),
        ("native compressor 15 bits, after 64 KiB", 15, 16),
        ("native compressor 9 bits, after 64 KiB", 9, 16),
    ] {
        let before = CURRENT.load(Ordering::Relaxed);
        let mut d = ws_deflate::backend::Deflater::new(ws_deflate::backend::DeflaterParams {
            level: 1,
            window_bits: bits,
            mem_level: 8,
            compressor: ws_deflate::backend::Compressor::Native,
            tune: None,
        });
        for m in wsx_corpus::messages(wsx_corpus::Kind::Chat, 4096, msgs, 1) {
            if let Err(e) = d.compress_sync(&m) {
                eprintln!("compress: {e}");
                return;
            }
        }
        let n = CURRENT.load(Ordering::Relaxed) - before;
        drop(d);
        println!("{label}: {n} bytes ({:.1} KiB)", n as f64 / 1024.0);
    }
    let before = CURRENT.load(Ordering::Relaxed);
    let i = ws_deflate::backend::Inflater::new();
    let n = CURRENT.load(Ordering::Relaxed) - before;
    drop(i);
    println!(
        "decompressor (15 bits): {n} bytes ({:.1} KiB)",
        n as f64 / 1024.0
    );
}
