//! The measurements behind each `wsx ratio` row: sizes on the wire, CPU per
//! message (one hot context, then many interleaved contexts) and heap per
//! connection (busy, then hibernated).

use std::time::Duration;

use ws_deflate::{DeflateConfig, PerMessageDeflateClient, PerMessageDeflateServer};
use ws_ext_core::{ClientNegotiator, Frame, OpCode, RecvStack, SendStack, ServerNegotiator};

use super::clock::Stopwatch;
use super::heap;
use super::input::Input;
use super::settings::Setting;

/// Timed passes over all settings (A B C … A B C); the median counts.
pub const PASSES: usize = 7;
/// The largest LZ77 window (15 bits).
const WINDOW: usize = 32 << 10;
/// Inputs with fewer message bytes than this repeat within a window while
/// timing (warm-up and passes cycle through the input).
pub const SMALL_INPUT: usize = 2 * WINDOW;
/// The memory figure: each connection exchanges messages until this many
/// bytes went each way (a full 15-bit window)…
const MEMORY_BYTES: usize = WINDOW;
/// …or this many messages went each way.
const MEMORY_MESSAGES: usize = 32;

/// How to measure.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Bound on the time spent timing each CPU figure.
    pub time: Duration,
    /// Connections interleaved for the many-context figures (≤ 1: none).
    pub contexts: usize,
    /// Connections opened for the memory figures.
    pub conns: usize,
}

/// CPU per message, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cpu {
    /// `SendStack::encode`.
    pub compress: f64,
    /// `RecvStack::decode`.
    pub decompress: f64,
}

impl Cpu {
    /// Compress plus decompress.
    pub fn total(&self) -> f64 {
        self.compress + self.decompress
    }
}

/// Heap per server connection, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Memory {
    /// After it received and sent messages, all state held.
    pub busy: f64,
    /// After `hibernate()` on both halves.
    pub hibernated: f64,
    /// What the busy send half (the compressor) holds: what a broadcast
    /// member served by a cohort does not hold (its send half is reset).
    pub send_busy: f64,
}

/// One (input, setting) measurement.
#[derive(Debug, Clone)]
pub struct Row {
    /// Input name.
    pub input: String,
    /// Setting name.
    pub setting: &'static str,
    /// The setting's `wsx serve` flags.
    pub flags: String,
    /// Messages in the input.
    pub messages: usize,
    /// Message bytes.
    pub raw: u64,
    /// Compressed payload bytes.
    pub payload: u64,
    /// Bytes on the wire server to client, frame headers included.
    pub wire: u64,
    /// One connection, messages in sequence (median of [`PASSES`]).
    pub hot: Cpu,
    /// `contexts` connections, messages round-robin (median of [`PASSES`]).
    pub ctx: Option<Cpu>,
    /// Heap per connection (`None`: not measurable here).
    pub mem: Option<Memory>,
    /// On the Pareto frontier of its input (set by the caller).
    pub pareto: bool,
}

impl Row {
    /// Message bytes / compressed payload bytes.
    pub fn ratio(&self) -> f64 {
        self.raw as f64 / (self.payload as f64).max(1.0)
    }
    /// Wire bytes per message.
    pub fn wire_per_msg(&self) -> f64 {
        self.wire as f64 / (self.messages as f64).max(1.0)
    }
    /// The CPU figure the frontier uses: many contexts when measured (what
    /// a server sees), else one.
    pub fn cpu(&self) -> Cpu {
        self.ctx.unwrap_or(self.hot)
    }
}

type Halves = (SendStack, RecvStack);

fn client_negotiator(cfg: &DeflateConfig) -> ClientNegotiator {
    // The client offers what lets the server apply its whole policy.
    let offer = DeflateConfig::default()
        .with_level(cfg.level)
        .with_client_max_window_bits(cfg.client_max_window_bits)
        .with_client_no_context_takeover(cfg.client_no_context_takeover);
    ClientNegotiator::new().with(PerMessageDeflateClient::new(offer))
}

fn server_negotiator(cfg: &DeflateConfig) -> ServerNegotiator {
    ServerNegotiator::new().with(PerMessageDeflateServer::new(cfg.clone()))
}

/// One negotiated connection: (server halves, client halves).
fn handshake(
    client: &ClientNegotiator,
    server: &ServerNegotiator,
) -> Result<(Halves, Halves), String> {
    let offer = client.offer_header().ok_or("no offer")?;
    let s = server
        .negotiate([offer.as_bytes()])
        .map_err(|e| format!("server negotiation: {e}"))?;
    let response = s
        .response_header()
        .ok_or("permessage-deflate was declined")?;
    let c = client
        .finish([response.as_bytes()])
        .map_err(|e| format!("client negotiation: {e}"))?;
    Ok((s.split(), c.split()))
}

fn header_len(payload: usize) -> u64 {
    match payload {
        0..=125 => 2,
        126..=65535 => 4,
        _ => 10,
    }
}

fn wire_len(payload: usize) -> u64 {
    header_len(payload) + payload as u64
}

/// `n` connections of one server (one factory, as on a real server): the
/// server's send half and the client's receive half of each.
struct Rig {
    pairs: Vec<(SendStack, RecvStack)>,
    sent: usize,
    out: Vec<(usize, Frame)>,
}

impl Rig {
    fn new(cfg: &DeflateConfig, n: usize) -> Result<Self, String> {
        let client = client_negotiator(cfg);
        let server = server_negotiator(cfg);
        let mut pairs = Vec::with_capacity(n);
        for _ in 0..n.max(1) {
            let (s, c) = handshake(&client, &server)?;
            pairs.push((s.0, c.1));
        }
        Ok(Rig {
            pairs,
            sent: 0,
            out: Vec::new(),
        })
    }

    /// Send `k` messages from `frames[start..]` (wrapping), each on the
    /// next connection round-robin, then receive them in the same order.
    /// Returns the time spent compressing and decompressing.
    fn run(
        &mut self,
        frames: &[Frame],
        start: usize,
        k: usize,
    ) -> Result<(Duration, Duration), String> {
        let n = self.pairs.len();
        self.out.clear();
        self.out.reserve(k);
        let t = Stopwatch::start();
        for j in 0..k {
            let c = (self.sent + j) % n;
            let f = frames[(start + j) % frames.len()].clone();
            let z = self.pairs[c]
                .0
                .encode(f)
                .map_err(|e| format!("compress: {e}"))?;
            self.out.push((c, z));
        }
        let enc = t.elapsed();
        let t = Stopwatch::start();
        for (c, z) in self.out.drain(..) {
            std::hint::black_box(
                self.pairs[c]
                    .1
                    .decode(z, usize::MAX)
                    .map_err(|e| format!("decompress: {e}"))?,
            );
        }
        let dec = t.elapsed();
        self.sent += k;
        Ok((enc, dec))
    }
}

fn us_per_msg(d: Duration, k: usize) -> f64 {
    d.as_secs_f64() * 1e6 / k.max(1) as f64
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Warm-up messages for `n` connections fed round-robin: enough that each
/// has about a full 15-bit window of history (as a long-lived connection
/// has; match search costs more with more history), at most the whole
/// input per connection, at least one message each.
fn warm_count(frames: &[Frame], n: usize) -> usize {
    let n = n.max(1);
    let (mut count, mut bytes) = (0, 0);
    while bytes < n * WINDOW && count < n * frames.len() {
        bytes += frames[count % frames.len()].payload.len();
        count += 1;
    }
    count.max(n)
}

/// Messages per timed pass so that the slowest setting (at `slowest_us`
/// per message) stays within its share of `time`.
fn chunk(time: Duration, slowest_us: f64, len: usize) -> usize {
    let budget_us = time.as_secs_f64() * 1e6 / PASSES as f64;
    let k = (budget_us / slowest_us.max(1e-3)).floor();
    (k as usize).clamp(1, len.max(1))
}

/// CPU samples of one setting.
#[derive(Default)]
struct Samples {
    hot: (Vec<f64>, Vec<f64>),
    ctx: (Vec<f64>, Vec<f64>),
}

fn push(to: &mut (Vec<f64>, Vec<f64>), (enc, dec): (Duration, Duration), k: usize) {
    to.0.push(us_per_msg(enc, k));
    to.1.push(us_per_msg(dec, k));
}

fn cpu(from: &mut (Vec<f64>, Vec<f64>)) -> Option<Cpu> {
    (!from.0.is_empty()).then(|| Cpu {
        compress: median(&mut from.0),
        decompress: median(&mut from.1),
    })
}

/// Measure every setting on one input. `progress` is told what runs.
pub fn input(
    input: &Input,
    settings: &[Setting],
    opts: Options,
    progress: &dyn Fn(&str),
) -> Result<Vec<Row>, String> {
    let opcode = if input.text {
        OpCode::Text
    } else {
        OpCode::Binary
    };
    let frames: Vec<Frame> = input
        .messages
        .iter()
        .map(|m| Frame::new(true, opcode, m.clone()))
        .collect();
    if frames.is_empty() {
        return Err(format!("{}: no messages", input.name));
    }
    let raw: u64 = input.messages.iter().map(|m| m.len() as u64).sum();
    let mut rows: Vec<Row> = settings
        .iter()
        .map(|s| Row {
            input: input.name.clone(),
            setting: s.name,
            flags: s.flags(),
            messages: frames.len(),
            raw,
            payload: raw,
            wire: input.messages.iter().map(|m| wire_len(m.len())).sum(),
            hot: Cpu::default(),
            ctx: (opts.contexts > 1).then_some(Cpu::default()),
            mem: Some(Memory::default()),
            pareto: false,
        })
        .collect();
    // (row index, config) of the settings that compress.
    let on: Vec<(usize, &DeflateConfig)> = settings
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.cfg.as_ref().map(|c| (i, c)))
        .collect();

    // Sizes, a round-trip check, and a first cost estimate.
    let mut slowest = 0f64;
    for &(i, cfg) in &on {
        progress(&format!("{} {}: sizes", input.name, rows[i].setting));
        let (slowest_here, payload, wire) = sizes(input, &frames, cfg, rows[i].setting)?;
        slowest = slowest.max(slowest_here);
        rows[i].payload = payload;
        rows[i].wire = wire;
    }

    // Timed passes, interleaved over settings, every rig alive throughout.
    progress(&format!("{}: timing", input.name));
    let k_hot = chunk(opts.time, slowest, frames.len());
    let w_hot = warm_count(&frames, 1);
    let mut hot = Vec::with_capacity(on.len());
    for &(_, cfg) in &on {
        let mut rig = Rig::new(cfg, 1)?;
        rig.run(&frames, 0, w_hot)?;
        hot.push(rig);
    }
    let mut ctx = Vec::with_capacity(on.len());
    let w_ctx = warm_count(&frames, opts.contexts);
    let mut k_ctx = 0;
    if opts.contexts > 1 {
        // The warm-up's cost per message (including creating each
        // connection's state) bounds the chunk from above.
        let mut slowest = 0f64;
        for &(_, cfg) in &on {
            let mut rig = Rig::new(cfg, opts.contexts)?;
            let (enc, _) = rig.run(&frames, 0, w_ctx)?;
            slowest = slowest.max(us_per_msg(enc, w_ctx));
            ctx.push(rig);
        }
        k_ctx = chunk(opts.time, slowest, frames.len());
    }
    let mut samples: Vec<Samples> = on.iter().map(|_| Samples::default()).collect();
    for pass in 0..PASSES {
        progress(&format!(
            "{}: timing pass {}/{PASSES}",
            input.name,
            pass + 1
        ));
        for (j, s) in samples.iter_mut().enumerate() {
            let start = w_hot + pass * k_hot;
            push(&mut s.hot, hot[j].run(&frames, start, k_hot)?, k_hot);
            if let Some(rig) = ctx.get_mut(j) {
                let start = w_ctx + pass * k_ctx;
                push(&mut s.ctx, rig.run(&frames, start, k_ctx)?, k_ctx);
            }
        }
    }
    drop(hot);
    drop(ctx);
    for (s, &(i, _)) in samples.iter_mut().zip(&on) {
        rows[i].hot = cpu(&mut s.hot).unwrap_or_default();
        rows[i].ctx = cpu(&mut s.ctx);
    }

    for &(i, cfg) in &on {
        progress(&format!("{} {}: memory", input.name, rows[i].setting));
        rows[i].mem = memory(cfg, &frames, opts.conns)?;
    }
    Ok(rows)
}

/// One pass over the input on a fresh connection: the time per message
/// (µs, compress and decompress: an over-estimate of compress alone, for
/// the chunk size), payload and wire bytes. Fails if a message does not come back intact.
fn sizes(
    input: &Input,
    frames: &[Frame],
    cfg: &DeflateConfig,
    setting: &str,
) -> Result<(f64, u64, u64), String> {
    let mut rig = Rig::new(cfg, 1)?;
    let (mut payload, mut wire) = (0u64, 0u64);
    let t = Stopwatch::start();
    let (tx, rx) = &mut rig.pairs[0];
    for (f, m) in frames.iter().zip(&input.messages) {
        let z = tx.encode(f.clone()).map_err(|e| format!("compress: {e}"))?;
        payload += z.payload.len() as u64;
        wire += wire_len(z.payload.len());
        let back = rx
            .decode(z, usize::MAX)
            .map_err(|e| format!("decompress: {e}"))?;
        if back.payload[..] != m[..] {
            return Err(format!("{}: {setting} did not round-trip", input.name));
        }
    }
    let per_msg = us_per_msg(t.elapsed(), frames.len());
    Ok((per_msg, payload, wire))
}

/// Heap per server connection, busy then hibernated. Each of `conns`
/// connections of one server receives and sends the input's first messages
/// (up to [`MEMORY_BYTES`] / [`MEMORY_MESSAGES`]). The factory keeps no
/// pool here (`pool_capacity: 0`), so the figures are what a connection
/// itself holds; a real server adds its shared pool once (at most
/// `pool_capacity` idle compressors and decompressors).
fn memory(cfg: &DeflateConfig, frames: &[Frame], conns: usize) -> Result<Option<Memory>, String> {
    let conns = conns.max(1);
    let mut count = 0;
    let mut bytes = 0;
    while count < frames.len() && count < MEMORY_MESSAGES && bytes < MEMORY_BYTES {
        bytes += frames[count].payload.len();
        count += 1;
    }
    let msgs = &frames[..count.max(1)];
    let cfg = cfg.clone().with_pool_capacity(0);
    let client = client_negotiator(&cfg);
    let server = server_negotiator(&cfg);
    // What the clients send: every client starts from the same state, so
    // one client's compressed frames are every client's.
    let (_, (mut ctx, _)) = handshake(&client, &server)?;
    let mut from_client = Vec::with_capacity(msgs.len());
    for f in msgs {
        from_client.push(
            ctx.encode(f.clone())
                .map_err(|e| format!("compress: {e}"))?,
        );
    }
    drop(ctx);
    let mut held: Vec<Halves> = Vec::with_capacity(conns);
    let before = heap::in_use();
    for _ in 0..conns {
        let ((mut tx, mut rx), _) = handshake(&client, &server)?;
        for (z, f) in from_client.iter().zip(msgs) {
            drop(
                rx.decode(z.clone(), usize::MAX)
                    .map_err(|e| format!("decompress: {e}"))?,
            );
            drop(tx.encode(f.clone()).map_err(|e| format!("compress: {e}"))?);
        }
        held.push((tx, rx));
    }
    let busy = heap::in_use();
    // The receive halves first, then the send halves: the difference is
    // what a busy send half holds beyond its hibernated self.
    for (_, rx) in &mut held {
        rx.hibernate();
    }
    let rx_hibernated = heap::in_use();
    for (tx, _) in &mut held {
        tx.hibernate();
    }
    let hibernated = heap::in_use();
    // And then nothing at all in the send halves (a cohort member's).
    for (tx, _) in &mut held {
        tx.reset();
    }
    let tx_none = heap::in_use();
    drop(held);
    let per_conn = |after: usize, before: usize| after.saturating_sub(before) as f64 / conns as f64;
    Ok(match (before, busy, rx_hibernated, hibernated, tx_none) {
        (Some(b), Some(u), Some(r), Some(h), Some(n)) => Some(Memory {
            busy: per_conn(u, b),
            hibernated: per_conn(h, b),
            send_busy: per_conn(r, n),
        }),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_chunk() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&mut []).is_nan());
        // 70 ms over 7 passes at 1000 µs per message: 10 per pass.
        assert_eq!(chunk(Duration::from_millis(70), 1000.0, 1000), 10);
        assert_eq!(chunk(Duration::from_millis(1), 1e6, 1000), 1);
        assert_eq!(chunk(Duration::from_secs(100), 1.0, 10), 10);
        let frames: Vec<Frame> = (0..10)
            .map(|_| Frame::new(true, OpCode::Binary, vec![0u8; 8192]))
            .collect();
        assert_eq!(warm_count(&frames, 1), 4);
        assert_eq!(warm_count(&frames, 3), 12);
        assert_eq!(warm_count(&frames[..1], 2), 2);
    }

    #[test]
    fn every_setting_measures_and_round_trips() {
        let input = Input {
            name: "t".into(),
            messages: wsx_corpus::mixed(wsx_corpus::Kind::Chat, 200, 4096, 16 << 10, 64, 1),
            text: true,
        };
        let settings = super::super::settings::all();
        let opts = Options {
            time: Duration::from_millis(5),
            contexts: 3,
            conns: 2,
        };
        let rows = super::input(&input, &settings, opts, &|_| {}).unwrap();
        assert_eq!(rows.len(), settings.len());
        for r in &rows {
            assert!(r.wire >= r.payload, "{}", r.setting);
            let c = r.ctx.unwrap();
            assert!(r.hot.total().is_finite() && c.total().is_finite());
            if r.setting == "off" {
                assert_eq!(r.ratio(), 1.0);
            } else {
                assert!(r.ratio() > 1.5, "{} {}", r.setting, r.ratio());
                assert!(r.hot.compress > 0.0, "{}", r.setting);
            }
        }
    }
}
