//! A decompression bomb that would expand to 1 GiB is stopped at the
//! message budget, with memory bounded by the budget (measured with a
//! counting global allocator).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use common::*;
use flate2::{Compress, Compression, FlushCompress};
use ws_deflate::{DeflateConfig, OfferParams, ResponseParams};
use ws_ext_core::{close_code, Decoder, ExtensionError, Frame, OpCode, RsvBits};

struct Counting;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        // Counted as the real allocator behaves for large blocks (mremap):
        // the block grows, it is not held twice.
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            if new > l.size() {
                let now = CURRENT.fetch_add(new - l.size(), Ordering::Relaxed) + new - l.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                CURRENT.fetch_sub(l.size() - new, Ordering::Relaxed);
            }
        }
        q
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        CURRENT.fetch_sub(l.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static A: Counting = Counting;

const MIB: usize = 1 << 20;

/// The allocation counters are global: one test at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// 1 MiB of zeros, compressed and sync-flushed: a chunk that ends on a byte
/// boundary, so it can be repeated; each copy adds 1 MiB of output.
fn zero_chunk() -> Vec<u8> {
    let mut c = Compress::new(Compression::best(), false);
    let zeros = vec![0u8; MIB];
    let mut out = Vec::with_capacity(8192);
    c.compress_vec(&zeros, &mut out, FlushCompress::Sync)
        .unwrap();
    assert_eq!(c.total_in() as usize, MIB);
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
    out
}

fn decoder() -> ws_deflate::PmdDecoder {
    codec_for(
        OfferParams::default(),
        ResponseParams::default(),
        DeflateConfig::default(),
    )
    .1
}

#[test]
fn gigabyte_bomb_stops_at_budget_with_bounded_memory() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let chunk = zero_chunk();
    // 1024 chunks: 1 GiB once inflated, about 1 MiB on the wire.
    let bomb: Vec<u8> = chunk
        .iter()
        .copied()
        .cycle()
        .take(chunk.len() * 1024)
        .collect();
    assert!(bomb.len() < 2 * MIB, "bomb is {} bytes", bomb.len());
    let bomb = Bytes::from(bomb);

    for (budget, frames) in [(4 * MIB, 1usize), (16 * MIB, 1), (16 * MIB, 64)] {
        let mut dec = decoder();
        let base = CURRENT.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let step = bomb.len().div_ceil(frames);
        let mut produced = 0;
        let mut err = None;
        for (i, part) in bomb.chunks(step).enumerate() {
            let mut f = Frame::new(
                i + 1 == frames,
                if i == 0 {
                    OpCode::Binary
                } else {
                    OpCode::Continuation
                },
                bomb.slice_ref(part),
            );
            if i == 0 {
                f.rsv = RsvBits::RSV1;
            }
            match dec.decode(f, budget - produced) {
                Ok(d) => produced += d.payload.len(),
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        let err = err.expect("the bomb must be refused");
        assert_eq!(err.close_code(), close_code::MESSAGE_TOO_BIG);
        assert!(matches!(err, ExtensionError::MessageTooBig { .. }));
        assert!(produced <= budget);
        let peak = PEAK.load(Ordering::Relaxed) - base;
        // The output of at most one budget plus the inflater (< 100 KiB).
        assert!(
            peak <= budget + 256 * 1024,
            "budget {budget}: peak {peak} bytes"
        );
    }
}

#[test]
fn budget_exactly_met_is_accepted() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let chunk = zero_chunk();
    let mut dec = decoder();
    // Two chunks and the message end: exactly 2 MiB.
    let mut payload = chunk.clone();
    payload.extend_from_slice(&chunk);
    payload.truncate(payload.len() - 4);
    let mut f = Frame::new(true, OpCode::Binary, payload.clone());
    f.rsv = RsvBits::RSV1;
    let out = dec.decode(f.clone(), 2 * MIB).unwrap();
    assert_eq!(out.payload.len(), 2 * MIB);
    assert!(out.payload.iter().all(|&b| b == 0));
    let mut dec = decoder();
    let e = dec.decode(f, 2 * MIB - 1).unwrap_err();
    assert_eq!(e, ExtensionError::MessageTooBig { limit: 2 * MIB - 1 });
}
