//! Helpers shared by the integration tests.
#![allow(dead_code)]

use bytes::Bytes;
use ws_deflate::{
    negotiate, DeflateConfig, OfferParams, PerMessageDeflate, PmdDecoder, PmdEncoder, Role,
};
use ws_deflate::{params::ResponseParams, DeflatePool};
use ws_ext_core::{Frame, OpCode, RsvBits};

/// A short unmasked frame from its wire bytes (payload < 126 bytes).
pub fn frame_from_wire(w: &[u8]) -> Frame {
    let len = (w[1] & 0x7f) as usize;
    assert!(
        len < 126 && w.len() == 2 + len,
        "test helper: short frames only"
    );
    Frame {
        fin: w[0] & 0x80 != 0,
        rsv: RsvBits::from_header_byte(w[0]),
        opcode: OpCode::from_u8(w[0]),
        payload: Bytes::copy_from_slice(&w[2..]),
    }
}

/// The wire bytes of a short unmasked frame.
pub fn wire_of(f: &Frame) -> Vec<u8> {
    assert!(f.payload.len() < 126);
    let mut v = vec![
        (if f.fin { 0x80 } else { 0 }) | f.rsv.bits() | f.opcode.as_u8(),
        f.payload.len() as u8,
    ];
    v.extend_from_slice(&f.payload);
    v
}

/// Negotiate `offer` against a server with `server_cfg`, validate on a
/// client with `client_cfg`, and return (client codec, server codec).
pub fn pair(
    client_cfg: &DeflateConfig,
    server_cfg: &DeflateConfig,
) -> ((PmdEncoder, PmdDecoder), (PmdEncoder, PmdDecoder)) {
    try_pair(client_cfg, server_cfg).expect("server accepts")
}

/// [`pair`], or `None` when the server declines the offer (with the
/// miniz_oxide backend, offers limiting the server's window).
pub fn try_pair(
    client_cfg: &DeflateConfig,
    server_cfg: &DeflateConfig,
) -> Option<((PmdEncoder, PmdDecoder), (PmdEncoder, PmdDecoder))> {
    let offer = client_cfg.primary_offer();
    let sa = negotiate::server_respond(&offer, server_cfg).ok()?;
    let ca = negotiate::client_validate(&offer, &sa.response).expect("client accepts");
    let pool = DeflatePool::new(4);
    let c = PerMessageDeflate::new(Role::Client, ca, client_cfg.clone(), pool.clone());
    let s = PerMessageDeflate::new(Role::Server, sa, server_cfg.clone(), pool);
    Some((c.into_codec(), s.into_codec()))
}

/// A codec pair straight from an offer and a response (no config checks).
pub fn codec_for(
    offer: OfferParams,
    resp: ResponseParams,
    cfg: DeflateConfig,
) -> (PmdEncoder, PmdDecoder) {
    let a = negotiate::client_validate(&offer, &resp).expect("valid");
    PerMessageDeflate::new(Role::Client, a, cfg, DeflatePool::new(0)).into_codec()
}

/// Split `msg` into frames at `cuts` (positions, any order, may repeat).
pub fn fragment(opcode: OpCode, msg: &[u8], cuts: &[usize]) -> Vec<Frame> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (msg.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut frames = Vec::new();
    let mut start = 0;
    for c in cuts.into_iter().chain(std::iter::once(msg.len())) {
        if c < start {
            continue;
        }
        let op = if frames.is_empty() {
            opcode
        } else {
            OpCode::Continuation
        };
        frames.push(Frame::new(
            false,
            op,
            Bytes::copy_from_slice(&msg[start..c]),
        ));
        start = c;
    }
    if let Some(last) = frames.last_mut() {
        last.fin = true;
    }
    frames
}

/// Run frames through an encoder then a decoder and reassemble.
pub fn through(
    enc: &mut PmdEncoder,
    dec: &mut PmdDecoder,
    frames: Vec<Frame>,
    budget: usize,
) -> (Vec<u8>, usize) {
    use ws_ext_core::{Decoder, Encoder};
    let mut out = Vec::new();
    let mut wire = 0;
    for f in frames {
        let e = enc.encode(f).expect("encode");
        wire += e.payload.len();
        let d = dec.decode(e, budget - out.len()).expect("decode");
        assert!(!d.rsv.contains(RsvBits::RSV1), "decoder must clear RSV1");
        out.extend_from_slice(&d.payload);
    }
    (out, wire)
}

/// Deterministic pseudo-random bytes (xorshift), with a knob for how
/// compressible they are: `alphabet` distinct byte values.
pub fn text(seed: u64, len: usize, alphabet: u8) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b'a'.wrapping_add((x % alphabet.max(1) as u64) as u8)
        })
        .collect()
}
