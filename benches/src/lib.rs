//! Shared pieces of the wsx benchmarks: the built-in corpora (the same
//! generator `wsx ratio` and `wsx load` use), raw-backend baselines
//! (zlib-rs and miniz_oxide called directly, sync flush, as RFC 7692
//! frames them), negotiated permessage-deflate stacks and the settings
//! matrix.
//!
//! The criterion targets are in `benches/benches/`; the side-by-side
//! script is `benches/side-by-side.sh`; results are in `benches/RESULTS.md`.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

use ws_deflate::{DeflateConfig, PerMessageDeflateClient, PerMessageDeflateServer};
use ws_ext_core::{ClientNegotiator, RecvStack, SendStack, ServerNegotiator};

/// The built-in corpora (the `wsx-corpus` crate, shared with the `wsx` command).
pub use wsx_corpus as corpus;

/// The bytes a sync flush ends with; RFC 7692 strips them from each message.
pub const TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Message sizes of the size sweep: 64 B to 1 MiB.
pub const SIZES: [usize; 6] = [64, 512, 4 << 10, 16 << 10, 64 << 10, 1 << 20];

/// A named permessage-deflate policy (the server's) for the setting sweep.
#[derive(Debug, Clone)]
pub struct Setting {
    /// Short name used in benchmark ids.
    pub name: &'static str,
    /// The server's policy.
    pub cfg: DeflateConfig,
}

/// The settings swept by the benches: level, window bits, context takeover.
pub fn settings() -> Vec<Setting> {
    let d = DeflateConfig::default();
    let s = |name, cfg| Setting { name, cfg };
    vec![
        s("default-l6-w15", d.clone()),
        s("level1", d.clone().with_level(1)),
        s("level9", d.clone().with_level(9)),
        s("window9", d.clone().with_server_max_window_bits(Some(9))),
        s("window12", d.clone().with_server_max_window_bits(Some(12))),
        s(
            "no-context-takeover",
            d.with_server_no_context_takeover(true)
                .with_client_no_context_takeover(true),
        ),
    ]
}

/// Negotiate permessage-deflate between a default client and a server with
/// `server_cfg`; returns the server's send half and the client's receive
/// half (server-to-client traffic, the direction a server compresses).
pub fn server_to_client(server_cfg: &DeflateConfig) -> (SendStack, RecvStack) {
    let client =
        ClientNegotiator::new().with(PerMessageDeflateClient::new(DeflateConfig::default()));
    let server = ServerNegotiator::new().with(PerMessageDeflateServer::new(server_cfg.clone()));
    let offer = client
        .offer_header()
        .expect("the client offers permessage-deflate");
    let server_stack = server
        .negotiate([offer.as_bytes()])
        .expect("the server accepts the offer");
    let response = server_stack
        .response_header()
        .expect("the server accepted permessage-deflate");
    let client_stack = client
        .finish([response.as_bytes()])
        .expect("the client accepts the response");
    let (tx, _) = server_stack.split();
    let (_, rx) = client_stack.split();
    (tx, rx)
}

/// A compression backend called directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// zlib-rs (`zlib_rs::Deflate` / `zlib_rs::Inflate`), what ws-deflate uses by default.
    ZlibRs,
    /// miniz_oxide (`CompressorOxide` / `InflateState`).
    Miniz,
}

impl Backend {
    /// Both backends.
    pub const ALL: [Backend; 2] = [Backend::ZlibRs, Backend::Miniz];

    /// Its name in benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            Backend::ZlibRs => "zlib-rs",
            Backend::Miniz => "miniz_oxide",
        }
    }
}

enum CompState {
    Zlib(Box<zlib_rs::Deflate>),
    Miniz(Box<miniz_oxide::deflate::core::CompressorOxide>),
}

/// A raw-DEFLATE compressor called directly: one sync flush per message,
/// trailer stripped, into a reused buffer. The baseline the extension stack
/// is compared with.
pub struct RawCompressor {
    state: CompState,
    out: Vec<u8>,
}

impl RawCompressor {
    /// A compressor at `level` with a `window_bits` window (miniz_oxide
    /// always uses 15) and memLevel 8 (zlib-rs).
    pub fn new(backend: Backend, level: u32, window_bits: u8) -> Self {
        let state = match backend {
            Backend::ZlibRs => CompState::Zlib(Box::new(zlib_rs::Deflate::new_with_config(
                zlib_rs::DeflateConfig {
                    level: level as i32,
                    window_bits: -i32::from(window_bits.max(9)),
                    mem_level: 8,
                    ..zlib_rs::DeflateConfig::default()
                },
            ))),
            Backend::Miniz => {
                let flags = miniz_oxide::deflate::core::create_comp_flags_from_zip_params(
                    level as i32,
                    -15,
                    0,
                );
                CompState::Miniz(Box::new(miniz_oxide::deflate::core::CompressorOxide::new(
                    flags,
                )))
            }
        };
        RawCompressor {
            state,
            out: Vec::new(),
        }
    }

    /// Compress one message and sync-flush; returns the payload as RFC 7692
    /// sends it (trailer stripped). Valid until the next call. The output
    /// buffer is kept between calls (zeroed only when it grows).
    pub fn compress(&mut self, input: &[u8]) -> &[u8] {
        let want = input.len() / 2 + 128;
        if self.out.len() < want {
            self.out.resize(want, 0);
        }
        let mut n = 0;
        let mut pos = 0;
        loop {
            if self.out.len() - n < 64 {
                let grow = self.out.len().max(256);
                self.out.resize(self.out.len() + grow, 0);
            }
            let spare = self.out.len() - n;
            let (consumed, produced) = match &mut self.state {
                CompState::Zlib(z) => {
                    let (i0, o0) = (z.total_in(), z.total_out());
                    z.compress(
                        &input[pos..],
                        &mut self.out[n..],
                        zlib_rs::DeflateFlush::SyncFlush,
                    )
                    .expect("zlib-rs compress");
                    ((z.total_in() - i0) as usize, (z.total_out() - o0) as usize)
                }
                CompState::Miniz(c) => {
                    let r = miniz_oxide::deflate::stream::deflate(
                        c,
                        &input[pos..],
                        &mut self.out[n..],
                        miniz_oxide::MZFlush::Sync,
                    );
                    r.status.expect("miniz compress");
                    (r.bytes_consumed, r.bytes_written)
                }
            };
            n += produced;
            pos += consumed;
            if pos == input.len() && produced < spare {
                break;
            }
        }
        if n >= 4 && self.out[n - 4..n] == TRAILER {
            &self.out[..n - 4]
        } else {
            &self.out[..n]
        }
    }
}

enum DecompState {
    Zlib(Box<zlib_rs::Inflate>),
    Miniz(Box<miniz_oxide::inflate::stream::InflateState>),
}

/// A raw-DEFLATE decompressor called directly: inflates one RFC 7692
/// payload plus the sync trailer into a caller's buffer sized for the
/// message.
pub struct RawDecompressor {
    state: DecompState,
}

impl RawDecompressor {
    /// A decompressor with a 15-bit window.
    pub fn new(backend: Backend) -> Self {
        let state = match backend {
            Backend::ZlibRs => DecompState::Zlib(Box::new(zlib_rs::Inflate::new(false, 15))),
            Backend::Miniz => DecompState::Miniz(
                miniz_oxide::inflate::stream::InflateState::new_boxed(miniz_oxide::DataFormat::Raw),
            ),
        };
        RawDecompressor { state }
    }

    /// Inflate `payload` followed by the trailer into `out`, a buffer
    /// reused between calls (grown to `size + 1` bytes, zeroed only when it
    /// grows). Returns the message.
    pub fn decompress<'a>(
        &mut self,
        payload: &[u8],
        out: &'a mut Vec<u8>,
        size: usize,
    ) -> &'a [u8] {
        if out.len() < size + 1 {
            out.resize(size + 1, 0);
        }
        let mut written = 0;
        for input in [payload, &TRAILER[..]] {
            let mut pos = 0;
            while pos < input.len() {
                let (c, p) = match &mut self.state {
                    DecompState::Zlib(z) => {
                        let (i0, o0) = (z.total_in(), z.total_out());
                        z.decompress(
                            &input[pos..],
                            &mut out[written..],
                            zlib_rs::InflateFlush::SyncFlush,
                        )
                        .expect("zlib-rs inflate");
                        ((z.total_in() - i0) as usize, (z.total_out() - o0) as usize)
                    }
                    DecompState::Miniz(s) => {
                        let r = miniz_oxide::inflate::stream::inflate(
                            s,
                            &input[pos..],
                            &mut out[written..],
                            miniz_oxide::MZFlush::Sync,
                        );
                        r.status.expect("miniz inflate");
                        (r.bytes_consumed, r.bytes_written)
                    }
                };
                pos += c;
                written += p;
                if c == 0 && p == 0 {
                    break;
                }
            }
        }
        &out[..written]
    }
}

/// Compress `messages` in order with the compressor of a stack negotiated
/// for `cfg`, returning each message's wire payload and whether it was
/// compressed (RSV1).
pub fn encode_all(
    cfg: &DeflateConfig,
    messages: &[Vec<u8>],
    text: bool,
) -> Vec<ws_ext_core::Frame> {
    let (mut tx, _) = server_to_client(cfg);
    let op = if text {
        ws_ext_core::OpCode::Text
    } else {
        ws_ext_core::OpCode::Binary
    };
    messages
        .iter()
        .map(|m| {
            tx.encode(ws_ext_core::Frame::new(true, op, m.clone()))
                .expect("compress")
        })
        .collect()
}

/// A batch of chat-like JSON messages of one size, in the three shapes the
/// overhead benches feed: raw bytes, `Message`s and single-frame `Frame`s.
pub struct ChatBatch {
    /// The payloads.
    pub msgs: Vec<Vec<u8>>,
    /// Their total size in bytes.
    pub total: usize,
    /// The payloads as text messages.
    pub texts: Vec<wsx::Message>,
    /// The payloads as final text frames.
    pub frames: Vec<ws_ext_core::Frame>,
}

/// About 256 KiB of `size`-byte chat-JSON messages (at most 1024), from `seed`.
pub fn chat_batch(size: usize, seed: u64) -> ChatBatch {
    let msgs = corpus::batch(corpus::Kind::Chat, size, 256 << 10, 1024, seed);
    let total = msgs.iter().map(Vec::len).sum();
    let texts = msgs
        .iter()
        .map(|m| wsx::Message::text(String::from_utf8_lossy(m).into_owned()))
        .collect();
    let frames = msgs
        .iter()
        .map(|m| ws_ext_core::Frame::new(true, ws_ext_core::OpCode::Text, m.clone()))
        .collect();
    ChatBatch {
        msgs,
        total,
        texts,
        frames,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_backends_round_trip_and_match_the_stack() {
        let msgs = corpus::messages(corpus::Kind::Chat, 5000, 4, 1);
        for b in Backend::ALL {
            let mut c = RawCompressor::new(b, 6, 15);
            let mut d = RawDecompressor::new(b);
            let mut out = Vec::new();
            for m in &msgs {
                let z = c.compress(m).to_vec();
                assert!(z.len() < m.len());
                assert_eq!(d.decompress(&z, &mut out, m.len()), &m[..]);
            }
        }
        // The stack's output inflates with the raw decompressor.
        let frames = encode_all(&DeflateConfig::default(), &msgs, true);
        let mut d = RawDecompressor::new(Backend::ZlibRs);
        let mut out = Vec::new();
        for (f, m) in frames.iter().zip(&msgs) {
            assert_eq!(d.decompress(&f.payload, &mut out, m.len()), &m[..]);
        }
    }
}
