//! Cross-checks against independent DEFLATE implementations: miniz_oxide
//! (and flate2's raw inflate) decode our streams; our decoder reads streams
//! made by zlib-rs and miniz_oxide at every level and window size, split
//! into frames at arbitrary byte positions.

mod common;

use bytes::Bytes;
use common::*;
use flate2::{Decompress, FlushDecompress};
use miniz_oxide::deflate::core::CompressorOxide;
use miniz_oxide::inflate::stream::InflateState;
use miniz_oxide::{DataFormat, MZFlush, MZStatus};
use ws_deflate::{DeflateConfig, OfferParams, ResponseParams};
use ws_ext_core::{Decoder, Encoder, Frame, OpCode, RsvBits};

const TRAILER: [u8; 4] = [0, 0, 0xff, 0xff];

fn corpus() -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    for i in 0..21u64 {
        let len = [0usize, 1, 17, 300, 4000, 33_000, 70_000][(i % 7) as usize];
        v.push(text(i, len, [2, 26, 255][(i % 3) as usize]));
    }
    v
}

/// Inflate one message with miniz_oxide, keeping its state across messages.
fn miniz_inflate(state: &mut InflateState, data: &[u8]) -> Vec<u8> {
    let mut input = data.to_vec();
    input.extend_from_slice(&TRAILER);
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut pos = 0;
    loop {
        let r =
            miniz_oxide::inflate::stream::inflate(state, &input[pos..], &mut buf, MZFlush::Sync);
        pos += r.bytes_consumed;
        out.extend_from_slice(&buf[..r.bytes_written]);
        match r.status {
            Ok(MZStatus::Ok) if pos == input.len() && r.bytes_written < buf.len() => return out,
            Ok(_) => {}
            Err(e) if pos == input.len() && r.bytes_written == 0 => {
                // miniz reports BufError when there is nothing left to do.
                assert_eq!(e, miniz_oxide::MZError::Buf);
                return out;
            }
            Err(e) => panic!("miniz_oxide rejected our stream: {e:?}"),
        }
    }
}

fn flate2_inflate(d: &mut Decompress, data: &[u8]) -> Vec<u8> {
    let mut input = data.to_vec();
    input.extend_from_slice(&TRAILER);
    let mut out = Vec::with_capacity(200_000);
    d.decompress_vec(&input, &mut out, FlushDecompress::Sync)
        .expect("flate2 inflates our stream");
    out
}

fn encode_message(
    enc: &mut ws_deflate::PmdEncoder,
    body: &[u8],
    cuts: &[usize],
) -> (bool, Vec<u8>) {
    let mut wire = Vec::new();
    let mut compressed = false;
    for (i, f) in fragment(OpCode::Binary, body, cuts).into_iter().enumerate() {
        let e = enc.encode(f).unwrap();
        if i == 0 {
            compressed = e.rsv.contains(RsvBits::RSV1);
        }
        wire.extend_from_slice(&e.payload);
    }
    (compressed, wire)
}

#[test]
fn independent_inflaters_decode_our_streams() {
    for level in [0u32, 1, 6, 9] {
        for bits in [None, Some(9), Some(12)] {
            for no_ctx in [false, true] {
                let offer = OfferParams {
                    client_no_context_takeover: no_ctx,
                    client_max_window_bits: ws_deflate::ClientMaxWindowBits::Bare,
                    ..OfferParams::default()
                };
                let resp = ResponseParams {
                    client_max_window_bits: bits,
                    ..ResponseParams::default()
                };
                let cfg = DeflateConfig::default()
                    .with_level(level)
                    .with_skip_if_not_smaller(false);
                let (mut enc, _) = codec_for(offer, resp, cfg);
                let mut miniz = InflateState::new_boxed(DataFormat::Raw);
                let mut fl = Decompress::new(false);
                for (i, body) in corpus().iter().enumerate() {
                    let (compressed, wire) = encode_message(&mut enc, body, &[i * 31, i * 4099]);
                    // miniz_oxide cannot limit its window: it sends plain.
                    let can = ws_deflate::backend::can_compress_with(bits.unwrap_or(15));
                    assert_eq!(compressed, can);
                    if !can {
                        assert_eq!(&wire, body);
                        continue;
                    }
                    if no_ctx {
                        miniz.reset(DataFormat::Raw);
                        fl.reset(false);
                    }
                    assert_eq!(
                        &miniz_inflate(&mut miniz, &wire),
                        body,
                        "miniz: level {level} bits {bits:?} msg {i}"
                    );
                    assert_eq!(
                        &flate2_inflate(&mut fl, &wire),
                        body,
                        "flate2: level {level} bits {bits:?} msg {i}"
                    );
                }
            }
        }
    }
}

/// A peer compressor: produce one message's bytes, sync-flushed and
/// trailer-stripped, or finished with a BFINAL block.
trait Peer {
    fn message(&mut self, body: &[u8], finish: bool) -> Vec<u8>;
}

/// zlib-rs called directly (its own Rust API, not our backend's path).
struct ZlibRsPeer(zlib_rs::Deflate);
impl Peer for ZlibRsPeer {
    fn message(&mut self, body: &[u8], finish: bool) -> Vec<u8> {
        let mut out: Vec<u8> = Vec::with_capacity(body.len() + 1024);
        let flush = if finish {
            zlib_rs::DeflateFlush::Finish
        } else {
            zlib_rs::DeflateFlush::SyncFlush
        };
        let start = self.0.total_in();
        loop {
            out.reserve(4096);
            let done = (self.0.total_in() - start) as usize;
            let len = out.len();
            let o0 = self.0.total_out();
            let _ = self
                .0
                .compress_uninit(&body[done..], out.spare_capacity_mut(), flush)
                .unwrap();
            // SAFETY: zlib-rs initialised exactly this many bytes.
            unsafe { out.set_len(len + (self.0.total_out() - o0) as usize) };
            let done = (self.0.total_in() - start) as usize;
            if done == body.len() && out.len() < out.capacity() {
                break;
            }
        }
        if !finish && out.is_empty() {
            // zlib does nothing on a flush right after a flush: an empty
            // stored block stripped of its trailer is `00`.
            return vec![0];
        }
        if finish {
            self.0.reset();
            out
        } else {
            assert!(out.ends_with(&TRAILER));
            out.truncate(out.len() - 4);
            out
        }
    }
}

struct MinizPeer(Box<CompressorOxide>);
impl Peer for MinizPeer {
    fn message(&mut self, body: &[u8], finish: bool) -> Vec<u8> {
        let flush = if finish {
            MZFlush::Finish
        } else {
            MZFlush::Sync
        };
        let mut out = vec![0u8; body.len() + 1024];
        let r = miniz_oxide::deflate::stream::deflate(&mut self.0, body, &mut out, flush);
        assert_eq!(r.bytes_consumed, body.len());
        out.truncate(r.bytes_written);
        if finish {
            self.0.reset();
            out
        } else {
            assert!(out.ends_with(&TRAILER), "miniz sync flush");
            out.truncate(out.len() - 4);
            out
        }
    }
}

fn decode_split(
    dec: &mut ws_deflate::PmdDecoder,
    wire: &[u8],
    cuts: &[usize],
    budget: usize,
) -> Vec<u8> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.push(wire.len());
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in cuts.iter().enumerate() {
        let c = (*c).max(start);
        let mut f = Frame::new(
            i + 1 == cuts.len(),
            if i == 0 {
                OpCode::Binary
            } else {
                OpCode::Continuation
            },
            Bytes::copy_from_slice(&wire[start..c]),
        );
        if i == 0 {
            f.rsv = RsvBits::RSV1;
        }
        let d = dec
            .decode(f, budget - out.len())
            .expect("our decoder reads the peer's stream");
        out.extend_from_slice(&d.payload);
        start = c;
    }
    out
}

fn check_peer(name: &str, mut peer: impl Peer, finish: bool) {
    let (_, mut dec) = codec_for(
        OfferParams::default(),
        ResponseParams::default(),
        DeflateConfig::default(),
    );
    for (i, body) in corpus().iter().enumerate() {
        let wire = peer.message(body, finish);
        let got = decode_split(&mut dec, &wire, &[i * 7 + 1, i * 131, i * 7001], body.len());
        assert_eq!(&got, body, "{name} message {i}");
    }
}

#[test]
fn our_decoder_reads_zlib_rs_streams_at_every_level_and_window() {
    for level in 0..=9 {
        for bits in [9u8, 10, 12, 15] {
            check_peer(
                &format!("zlib-rs level {level} bits {bits}"),
                ZlibRsPeer(zlib_rs::Deflate::new(level, false, bits)),
                false,
            );
        }
        check_peer(
            &format!("zlib-rs level {level} BFINAL"),
            ZlibRsPeer(zlib_rs::Deflate::new(level, false, 15)),
            true,
        );
    }
}

#[test]
fn our_decoder_reads_miniz_streams_at_every_level() {
    for level in 0..=10u8 {
        let mk = || {
            let mut c = Box::<CompressorOxide>::default();
            c.set_format_and_level(DataFormat::Raw, level);
            c
        };
        check_peer(&format!("miniz level {level}"), MinizPeer(mk()), false);
        check_peer(
            &format!("miniz level {level} BFINAL"),
            MinizPeer(mk()),
            true,
        );
    }
}
