//! Load client of `benches/broadcast.sh`: one sender, N receivers on one
//! broadcast room (a URL path), every delivery checked.
//!
//! ```text
//! broadcast-load --url ws://127.0.0.1:PORT/room [--receivers 100] [--messages 300]
//!                [--late-percent 10] [--window 1] [--corpus chat | --corpus-file FILE]
//!                [--server-pid PID] [--clk-tck 100] [--timeout 120] [--threads 2]
//! broadcast-load --corpus-stats [--corpus chat | --corpus-file FILE] [--messages M]
//! ```
//!
//! Not built on wsx (nor on any WebSocket library): the client side of RFC
//! 6455 is written out here (handshake, frame parser, masking) and the
//! permessage-deflate payloads are inflated with zlib-rs directly (raw
//! DEFLATE, 15-bit window, the RFC 7692 trailer appended, the window kept
//! across messages, which is right whether or not the server resets its
//! compressor). Every connection sends Node ws's client default offer,
//! `permessage-deflate; client_max_window_bits`, so every server answers
//! the same offer and picks its own parameters. The sender sends its
//! messages uncompressed (RSV1 clear, allowed under permessage-deflate): the
//! measured direction is server to client.
//!
//! The run:
//! 1. the sender and `N - late` receivers connect (every connection is a
//!    member of the room: the servers send each message to every
//!    connection on the path, the sender included);
//! 2. after a settle pause the server's CPU is sampled, then the sender
//!    sends M messages in order, the next one only once every member has
//!    the one `window` messages back (`--window 1`: lockstep, each message
//!    fans out on its own; nothing piles up, so no server drops or batches
//!    because of a slow reader);
//! 3. half-way (after message M/2 - 1 reached everyone) the CPU is sampled,
//!    `late` more receivers connect (a tenth by default), a settle pause,
//!    the CPU is sampled again (this interval, handshakes only, is reported
//!    apart and left out of the per-delivery figure), and the sender goes on;
//! 4. once every member has the last message the CPU is sampled a last time;
//!    then every connection closes (close 1000, the server's close awaited).
//!
//! Checks: every member receives every message sent after it joined,
//! byte-exact, with its kind (text or binary), in order, nothing else (a
//! late joiner: a contiguous suffix, from its first message to the last; its
//! first message must be one sent after it joined). Any error, mismatch,
//! missing or extra message, or the timeout fails the run (exit status 1).
//!
//! Figures (one JSON line on stdout):
//! - deliveries: messages received and verified, all members;
//! - server CPU: utime+stime of the server process (all threads,
//!   `/proc/PID/stat`, CLK_TCK ticks) and the sum of its threads'
//!   `/proc/PID/task/*/schedstat` run time (ns, live threads), over the two
//!   message phases only (connection set-up, the late joiners' handshakes
//!   and the closes are outside);
//! - wire bytes: every WebSocket frame byte the members received from the
//!   server after the handshake, up to and including the frame that ended
//!   their last message (headers, payloads, and any ping the server sent);
//! - fan-out time per message: from its send to its arrival at the last
//!   member (with `--window 1`, the time one message takes to reach all).

#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use benches::corpus;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify, Semaphore};
use wsx_corpus::Rng;

const OFFER: &str = "permessage-deflate; client_max_window_bits";
const TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

// ------------------------------------------------------------------ options

struct Opts {
    url: String,
    receivers: usize,
    late_percent: usize,
    messages: usize,
    window: usize,
    corpus: String,
    corpus_file: Option<String>,
    seed: u64,
    server_pid: Option<u32>,
    clk_tck: u64,
    timeout: u64,
    threads: usize,
    connect_concurrency: usize,
    settle_ms: u64,
    corpus_stats: bool,
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "broadcast-load: {msg}\n\
         usage: broadcast-load --url ws://HOST:PORT/PATH [--receivers N] [--messages M]\n\
         \x20      [--late-percent P] [--window W] [--corpus chat | --corpus-file FILE] [--seed S]\n\
         \x20      [--server-pid PID] [--clk-tck T] [--timeout SECS] [--threads T]\n\
         \x20      [--connect-concurrency C] [--settle-ms MS]\n\
         \x20      | --corpus-stats [--corpus chat | --corpus-file FILE] [--messages M]"
    );
    std::process::exit(2)
}

fn parse_args() -> Opts {
    let mut o = Opts {
        url: String::new(),
        receivers: 100,
        late_percent: 10,
        messages: 300,
        window: 1,
        corpus: "chat".into(),
        corpus_file: None,
        seed: 1,
        server_pid: None,
        clk_tck: 100,
        timeout: 120,
        threads: 2,
        connect_concurrency: 50,
        settle_ms: 300,
        corpus_stats: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{a} needs a value")))
        };
        let num = |v: String| -> u64 {
            v.parse()
                .unwrap_or_else(|_| usage(&format!("{a}: not a number")))
        };
        match a.as_str() {
            "--url" => o.url = val(),
            "--receivers" => o.receivers = num(val()) as usize,
            "--late-percent" => o.late_percent = num(val()) as usize,
            "--messages" => o.messages = num(val()) as usize,
            "--window" => o.window = num(val()).max(1) as usize,
            "--corpus" => o.corpus = val(),
            "--corpus-file" => o.corpus_file = Some(val()),
            "--seed" => o.seed = num(val()),
            "--server-pid" => o.server_pid = Some(num(val()) as u32),
            "--clk-tck" => o.clk_tck = num(val()).max(1),
            "--timeout" => o.timeout = num(val()),
            "--threads" => o.threads = num(val()).max(1) as usize,
            "--connect-concurrency" => o.connect_concurrency = num(val()).max(1) as usize,
            "--settle-ms" => o.settle_ms = num(val()),
            "--corpus-stats" => o.corpus_stats = true,
            _ => usage(&format!("unknown argument {a}")),
        }
    }
    if o.url.is_empty() && !o.corpus_stats {
        usage("--url is required");
    }
    if o.messages < 2 {
        usage("--messages must be at least 2");
    }
    if o.late_percent > 100 {
        usage("--late-percent must be 0..=100");
    }
    o
}

// ------------------------------------------------------------------ corpus

#[derive(Debug, Clone, PartialEq, Eq)]
struct Msg {
    data: Vec<u8>,
    binary: bool,
}

/// The M messages of the run, in sending order, and the corpus's name.
fn load_messages(o: &Opts) -> Result<(Vec<Msg>, String, usize), String> {
    if let Some(path) = &o.corpus_file {
        // Records: [1 byte: 1 = binary][u32 LE length][bytes]
        // (`node benches/peers/load_ws.js --dump-corpus FILE`).
        let raw = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
        let mut entries = Vec::new();
        let mut i = 0;
        while i < raw.len() {
            if i + 5 > raw.len() {
                return Err(format!("{path}: truncated record at {i}"));
            }
            let binary = raw[i] == 1;
            let n = u32::from_le_bytes([raw[i + 1], raw[i + 2], raw[i + 3], raw[i + 4]]) as usize;
            i += 5;
            if i + n > raw.len() {
                return Err(format!("{path}: truncated record at {i}"));
            }
            entries.push(Msg {
                data: raw[i..i + n].to_vec(),
                binary,
            });
            i += n;
        }
        if entries.is_empty() {
            return Err(format!("{path}: no message"));
        }
        let distinct = entries.len();
        let msgs = (0..o.messages)
            .map(|k| entries[k % entries.len()].clone())
            .collect();
        let name = format!(
            "file {}",
            std::path::Path::new(path)
                .file_name()
                .map_or_else(|| path.clone(), |f| f.to_string_lossy().into_owned())
        );
        return Ok((msgs, name, distinct));
    }
    if o.corpus != "chat" {
        return Err(format!("--corpus {}: only `chat` is built in", o.corpus));
    }
    // wsx-corpus chat JSON, mixed sizes 200 B - 4 KiB (the corpus of `wsx
    // ratio` and of the DeflateConfig::broadcast() figures), all text, M
    // distinct messages.
    let msgs: Vec<Msg> = corpus::mixed(
        corpus::Kind::Chat,
        200,
        4096,
        usize::MAX,
        o.messages,
        o.seed,
    )
    .into_iter()
    .map(|data| Msg {
        data,
        binary: false,
    })
    .collect();
    let n = msgs.len();
    Ok((msgs, "wsx-corpus chat-json 200..4096".into(), n))
}

fn corpus_stats_json(msgs: &[Msg], name: &str, distinct: usize) -> String {
    let mut sizes: Vec<usize> = msgs.iter().map(|m| m.data.len()).collect();
    sizes.sort_unstable();
    let q = |p: f64| sizes[((p * sizes.len() as f64) as usize).min(sizes.len() - 1)];
    let mean = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
    format!(
        "{{\"name\":\"{name}\",\"messages\":{},\"distinct\":{distinct},\"min\":{},\"p50\":{},\"p90\":{},\"max\":{},\"mean\":{mean:.1},\"binary\":{}}}",
        sizes.len(),
        sizes[0],
        q(0.5),
        q(0.9),
        sizes[sizes.len() - 1],
        msgs.iter().filter(|m| m.binary).count()
    )
}

// ------------------------------------------------------------------ /proc

#[derive(Debug, Clone, Copy, Default)]
struct CpuSample {
    ticks: u64,
    ns: u64,
}

fn cpu_sample(pid: Option<u32>) -> CpuSample {
    let Some(pid) = pid else {
        return CpuSample::default();
    };
    let ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // After the `comm` field, which may contain spaces: state is
            // field 3, utime 14, stime 15.
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    let mut ns = 0;
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in dir.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("schedstat")) {
                ns += s
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    CpuSample { ticks, ns }
}

fn rss_kib(pid: Option<u32>) -> u64 {
    pid.and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

// ------------------------------------------------------------------ shared state

struct Shared {
    msgs: Vec<Msg>,
    /// The longest message.
    max_len: usize,
    /// Index of the first message the late joiners may get.
    half: usize,
    /// Members that must receive every message: the sender and the early
    /// receivers.
    fixed: u32,
    /// Members that have verified message k.
    count: Vec<AtomicU32>,
    /// When message k reached its last member so far (ns since `t_base`).
    last_arrival: Vec<AtomicU64>,
    /// When message k was sent (ns since `t_base`).
    sent_at: Vec<AtomicU64>,
    /// Messages sent so far.
    sent: AtomicUsize,
    /// The first message of each late joiner that has received one.
    late_first: Mutex<Vec<usize>>,
    /// Wakes the sender when a message reached (another) member.
    progress: Notify,
    /// Members that have their last message.
    done: AtomicUsize,
    done_notify: Notify,
    deliveries: AtomicU64,
    payload: AtomicU64,
    wire: AtomicU64,
    compressed: AtomicU64,
    pings: AtomicU64,
    errors: AtomicU64,
    mismatches: AtomicU64,
    samples: Mutex<Vec<String>>,
    extensions: Mutex<Option<String>>,
    extensions_differ: AtomicU64,
    closing: AtomicBool,
    t_base: Instant,
}

impl Shared {
    fn fail(&self, what: String, mismatch: bool) {
        if mismatch {
            self.mismatches.fetch_add(1, Relaxed);
        } else {
            self.errors.fetch_add(1, Relaxed);
        }
        let mut s = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        if s.len() < 8 {
            s.push(what);
        }
    }

    fn now_ns(&self) -> u64 {
        self.t_base.elapsed().as_nanos() as u64
    }

    /// Members that must have message k: the fixed ones and the late
    /// joiners whose first message is k or earlier.
    fn need(&self, k: usize) -> u32 {
        let late = self.late_first.lock().unwrap_or_else(|e| e.into_inner());
        self.fixed + late.iter().filter(|&&j| j <= k).count() as u32
    }
}

// ------------------------------------------------------------------ connection

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

struct Url {
    addr: String,
    host: String,
    path: String,
}

fn parse_url(url: &str) -> Result<Url, String> {
    let rest = url
        .strip_prefix("ws://")
        .ok_or_else(|| format!("{url}: only ws:// URLs"))?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    Ok(Url {
        addr: hostport.to_owned(),
        host: hostport.to_owned(),
        path: path.to_owned(),
    })
}

/// Open a connection and do the opening handshake. Returns the stream, the
/// bytes read past the response head (frame bytes), the response's
/// Sec-WebSocket-Extensions and whether permessage-deflate was accepted.
async fn connect(url: &Url, seed: u64) -> Result<(TcpStream, Vec<u8>, String, bool), String> {
    let mut s = TcpStream::connect(&url.addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = s.set_nodelay(true);
    let mut r = Rng::new(seed);
    let mut key = [0u8; 16];
    for c in key.chunks_mut(8) {
        c.copy_from_slice(&r.next_u64().to_le_bytes()[..c.len()]);
    }
    let key = base64(&key);
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Extensions: {OFFER}\r\n\r\n",
        url.path, url.host
    );
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| format!("handshake write: {e}"))?;
    let mut buf = Vec::with_capacity(1024);
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 16 << 10 {
            return Err("handshake: response head too large".into());
        }
        let n = s
            .read_buf(&mut buf)
            .await
            .map_err(|e| format!("handshake read: {e}"))?;
        if n == 0 {
            return Err("handshake: EOF".into());
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("");
    if !status.starts_with("HTTP/1.1 101") {
        return Err(format!("handshake: {status}"));
    }
    let mut accept = None;
    let mut ext = String::new();
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "sec-websocket-accept" {
                accept = Some(v.to_owned());
            } else if k == "sec-websocket-extensions" {
                if !ext.is_empty() {
                    ext.push_str(", ");
                }
                ext.push_str(v);
            }
        }
    }
    let expected = tungstenite::handshake::derive_accept_key(key.as_bytes());
    if accept.as_deref() != Some(expected.as_str()) {
        return Err(format!("handshake: bad Sec-WebSocket-Accept {accept:?}"));
    }
    let pmd = ext
        .split(',')
        .any(|e| e.split(';').next().map(str::trim) == Some("permessage-deflate"));
    Ok((s, buf[end..].to_vec(), ext, pmd))
}

/// A masked client frame.
fn client_frame(opcode: u8, payload: &[u8], rand: &mut Rng) -> Vec<u8> {
    let mut f = Vec::with_capacity(payload.len() + 14);
    f.push(0x80 | opcode);
    let n = payload.len();
    if n < 126 {
        f.push(0x80 | n as u8);
    } else if n < 65536 {
        f.push(0x80 | 126);
        f.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        f.push(0x80 | 127);
        f.extend_from_slice(&(n as u64).to_be_bytes());
    }
    let mask = (rand.next_u64() as u32).to_be_bytes();
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
    f
}

/// One raw-DEFLATE inflater kept across messages (RFC 7692 with or without
/// the server's context takeover).
struct Inflater {
    z: zlib_rs::Inflate,
}

impl Inflater {
    fn new() -> Self {
        Inflater {
            z: zlib_rs::Inflate::new(false, 15),
        }
    }

    /// Inflate one message (`payload` + the trailer) into `out`; at most
    /// `limit` bytes (more is an error).
    fn inflate(
        &mut self,
        payload: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<usize, String> {
        if out.len() < limit + 1 {
            out.resize(limit + 1, 0);
        }
        let mut written = 0;
        for input in [payload, &TRAILER[..]] {
            let mut pos = 0;
            while pos < input.len() {
                if written > limit {
                    return Err(format!("inflated message longer than {limit} B"));
                }
                let (i0, o0) = (self.z.total_in(), self.z.total_out());
                self.z
                    .decompress(
                        &input[pos..],
                        &mut out[written..=limit],
                        zlib_rs::InflateFlush::SyncFlush,
                    )
                    .map_err(|e| format!("inflate: {}", e.as_str()))?;
                let (c, p) = (
                    (self.z.total_in() - i0) as usize,
                    (self.z.total_out() - o0) as usize,
                );
                pos += c;
                written += p;
                if c == 0 && p == 0 {
                    if written > limit {
                        return Err(format!("inflated message longer than {limit} B"));
                    }
                    return Err("inflate: no progress".into());
                }
            }
        }
        Ok(written)
    }
}

/// What a member knows while it reads.
struct Member {
    id: usize,
    late: bool,
    pmd: bool,
    /// The next message index expected (None: a late joiner before its first).
    next: Option<usize>,
    inflater: Inflater,
    out: Vec<u8>,
    /// A message being assembled from fragments: (opcode, compressed, bytes).
    partial: Option<(u8, bool, Vec<u8>)>,
    /// Frame bytes received so far.
    wire: u64,
    finished: bool,
}

enum Step {
    Continue,
    /// The server closed (close frame received).
    Closed,
}

impl Member {
    fn new(id: usize, late: bool, pmd: bool) -> Self {
        Member {
            id,
            late,
            pmd,
            next: if late { None } else { Some(0) },
            inflater: Inflater::new(),
            out: Vec::new(),
            partial: None,
            wire: 0,
            finished: false,
        }
    }

    /// Handle one complete data message.
    fn on_message(&mut self, sh: &Shared, opcode: u8, compressed: bool, payload: &[u8]) {
        let limit = sh.max_len;
        let data: &[u8] = if compressed {
            match self.inflater.inflate(payload, &mut self.out, limit) {
                Ok(n) => &self.out[..n],
                Err(e) => {
                    sh.fail(format!("member {}: {e}", self.id), true);
                    return;
                }
            }
        } else {
            payload
        };
        let binary = opcode == 2;
        let idx = match self.next {
            Some(i) => i,
            None => {
                // A late joiner's first message: one sent after it joined.
                let sent = sh.sent.load(Relaxed).min(sh.msgs.len());
                match (sh.half..sent)
                    .find(|&j| sh.msgs[j].binary == binary && sh.msgs[j].data == data)
                {
                    Some(j) => {
                        sh.late_first
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(j);
                        j
                    }
                    None => {
                        sh.fail(
                            format!(
                                "late member {}: first message ({} B) is none of those sent since it joined ({}..{sent})",
                                self.id,
                                data.len(),
                                sh.half
                            ),
                            true,
                        );
                        return;
                    }
                }
            }
        };
        if idx >= sh.msgs.len() || self.finished {
            sh.fail(
                format!("member {}: extra message ({} B)", self.id, data.len()),
                true,
            );
            return;
        }
        let want = &sh.msgs[idx];
        if want.binary != binary || want.data != data {
            sh.fail(
                format!(
                    "member {}: message {idx} differs (got {} {} B, want {} {} B)",
                    self.id,
                    if binary { "binary" } else { "text" },
                    data.len(),
                    if want.binary { "binary" } else { "text" },
                    want.data.len()
                ),
                true,
            );
        }
        self.next = Some(idx + 1);
        sh.deliveries.fetch_add(1, Relaxed);
        sh.payload.fetch_add(data.len() as u64, Relaxed);
        if compressed {
            sh.compressed.fetch_add(1, Relaxed);
        }
        sh.last_arrival[idx].fetch_max(sh.now_ns(), Relaxed);
        let c = sh.count[idx].fetch_add(1, Relaxed) + 1;
        if c >= sh.fixed || self.late {
            sh.progress.notify_one();
        }
        if idx + 1 == sh.msgs.len() {
            self.finished = true;
            sh.wire.fetch_add(self.wire, Relaxed);
            sh.done.fetch_add(1, Relaxed);
            sh.done_notify.notify_one();
        }
    }

    /// Parse and handle every complete frame in `buf[*pos..]`; pongs and
    /// close replies go to `replies`.
    fn on_bytes(
        &mut self,
        sh: &Shared,
        buf: &[u8],
        pos: &mut usize,
        replies: &mut Vec<Vec<u8>>,
        rand: &mut Rng,
    ) -> Result<Step, String> {
        loop {
            let b = &buf[*pos..];
            if b.len() < 2 {
                return Ok(Step::Continue);
            }
            let (fin, rsv1, rsv23, opcode) =
                (b[0] & 0x80 != 0, b[0] & 0x40 != 0, b[0] & 0x30, b[0] & 0x0f);
            if b[1] & 0x80 != 0 {
                return Err("masked frame from the server".into());
            }
            let (len, hdr) = match b[1] & 0x7f {
                126 if b.len() >= 4 => (u64::from(u16::from_be_bytes([b[2], b[3]])), 4),
                127 if b.len() >= 10 => (
                    u64::from_be_bytes([b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9]]),
                    10,
                ),
                126 | 127 => return Ok(Step::Continue),
                n => (u64::from(n), 2),
            };
            if len > 64 << 20 {
                return Err(format!("frame of {len} B"));
            }
            let total = hdr + len as usize;
            if b.len() < total {
                return Ok(Step::Continue);
            }
            let payload = &b[hdr..total];
            *pos += total;
            self.wire += total as u64;
            if rsv23 != 0 || (rsv1 && (!self.pmd || opcode == 0 || opcode >= 8)) {
                return Err(format!("bad RSV bits on opcode {opcode}"));
            }
            match opcode {
                1 | 2 => {
                    if self.partial.is_some() {
                        return Err("new message inside a fragmented one".into());
                    }
                    if fin {
                        self.on_message(sh, opcode, rsv1, payload);
                    } else {
                        self.partial = Some((opcode, rsv1, payload.to_vec()));
                    }
                }
                0 => {
                    let Some((op, comp, mut data)) = self.partial.take() else {
                        return Err("continuation without a message".into());
                    };
                    data.extend_from_slice(payload);
                    if fin {
                        self.on_message(sh, op, comp, &data);
                    } else {
                        self.partial = Some((op, comp, data));
                    }
                }
                9 => {
                    sh.pings.fetch_add(1, Relaxed);
                    replies.push(client_frame(10, payload, rand));
                }
                10 => {}
                8 => {
                    if !sh.closing.load(Relaxed) {
                        let code = if payload.len() >= 2 {
                            u16::from_be_bytes([payload[0], payload[1]])
                        } else {
                            1005
                        };
                        return Err(format!("closed by the server ({code})"));
                    }
                    return Ok(Step::Closed);
                }
                _ => return Err(format!("unknown opcode {opcode}")),
            }
        }
    }
}

/// Read and check frames until told to close, then close (1000) and wait for
/// the server's close (3 s at most).
async fn member_task(
    sh: Arc<Shared>,
    mut member: Member,
    mut rd: OwnedReadHalf,
    wr: Arc<tokio::sync::Mutex<OwnedWriteHalf>>,
    leftover: Vec<u8>,
    mut close: watch::Receiver<bool>,
) {
    let mut rand = Rng::new(member.id as u64);
    let mut buf = leftover;
    buf.reserve(64 << 10);
    let mut pos = 0;
    let mut replies = Vec::new();
    let mut close_sent = false;
    let deadline = async {
        let _ = close.wait_for(|v| *v).await;
    };
    tokio::pin!(deadline);
    loop {
        match member.on_bytes(&sh, &buf, &mut pos, &mut replies, &mut rand) {
            Ok(Step::Continue) => {}
            Ok(Step::Closed) => break,
            Err(e) => {
                sh.fail(format!("member {}: {e}", member.id), false);
                break;
            }
        }
        if !replies.is_empty() {
            let mut w = wr.lock().await;
            for r in replies.drain(..) {
                if let Err(e) = w.write_all(&r).await {
                    sh.fail(format!("member {}: write: {e}", member.id), false);
                }
            }
        }
        if pos > 0 && pos == buf.len() {
            buf.clear();
            pos = 0;
        } else if pos > 32 << 10 {
            buf.drain(..pos);
            pos = 0;
        }
        let read = tokio::select! {
            r = rd.read_buf(&mut buf) => r,
            _ = &mut deadline, if !close_sent => {
                close_sent = true;
                let frame = client_frame(8, &1000u16.to_be_bytes(), &mut rand);
                let _ = wr.lock().await.write_all(&frame).await;
                continue;
            }
        };
        match read {
            Ok(0) => {
                if !close_sent {
                    sh.fail(format!("member {}: EOF from the server", member.id), false);
                }
                break;
            }
            Ok(_) => {}
            Err(e) => {
                if !close_sent {
                    sh.fail(format!("member {}: read: {e}", member.id), false);
                }
                break;
            }
        }
    }
    if !member.finished && !sh.closing.load(Relaxed) {
        // Counted as done so the run ends; the error is recorded.
        sh.done.fetch_add(1, Relaxed);
        sh.done_notify.notify_one();
    }
    let _ = wr.lock().await.shutdown().await;
}

/// Open `ids` (receivers; `late` ones join half-way), at most `conc`
/// handshakes at a time, and start their reading tasks.
async fn open_members(
    sh: &Arc<Shared>,
    url: &Arc<Url>,
    ids: std::ops::Range<usize>,
    late: bool,
    conc: usize,
    close: &watch::Receiver<bool>,
    tasks: &mut tokio::task::JoinSet<()>,
) -> Result<(), String> {
    let sem = Arc::new(Semaphore::new(conc));
    let mut opening = tokio::task::JoinSet::new();
    for id in ids {
        let (sem, url) = (sem.clone(), url.clone());
        opening.spawn(async move {
            let _p = sem.acquire_owned().await;
            (id, connect(&url, 0xB0AD_CA57 ^ ((id as u64) << 20)).await)
        });
    }
    while let Some(r) = opening.join_next().await {
        let (id, res) = r.map_err(|e| format!("connect task: {e}"))?;
        let (s, leftover, ext, pmd) = res.map_err(|e| format!("member {id}: {e}"))?;
        note_extensions(sh, &ext);
        let (rd, wr) = s.into_split();
        tasks.spawn(member_task(
            sh.clone(),
            Member::new(id, late, pmd),
            rd,
            Arc::new(tokio::sync::Mutex::new(wr)),
            leftover,
            close.clone(),
        ));
    }
    Ok(())
}

fn note_extensions(sh: &Shared, ext: &str) {
    let mut e = sh.extensions.lock().unwrap_or_else(|e| e.into_inner());
    match &*e {
        None => *e = Some(ext.to_owned()),
        Some(x) if x != ext => {
            sh.extensions_differ.fetch_add(1, Relaxed);
        }
        _ => {}
    }
}

/// Wait until message `k` reached every member that must have it.
async fn wait_reached(sh: &Shared, k: usize) {
    loop {
        let notified = sh.progress.notified();
        if sh.count[k].load(Relaxed) >= sh.need(k) {
            return;
        }
        notified.await;
    }
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((p * sorted.len() as f64) as usize).min(sorted.len() - 1)]
}

struct Phases {
    c0: CpuSample,
    c1: CpuSample,
    c2: CpuSample,
    c3: CpuSample,
    rss_idle: u64,
    rss_end: u64,
    t_msgs: Duration,
}

async fn run(o: &Opts, sh: Arc<Shared>, url: Arc<Url>) -> Result<Phases, String> {
    let late = o.receivers * o.late_percent / 100;
    let early = o.receivers - late;
    let (close_tx, close_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();

    let body = async {
        // The sender (member 0) and the early receivers (1..=early).
        let (s, leftover, ext, pmd) = connect(&url, 0x5E4D)
            .await
            .map_err(|e| format!("sender: {e}"))?;
        note_extensions(&sh, &ext);
        let (rd, wr) = s.into_split();
        let wr = Arc::new(tokio::sync::Mutex::new(wr));
        tasks.spawn(member_task(
            sh.clone(),
            Member::new(0, false, pmd),
            rd,
            wr.clone(),
            leftover,
            close_rx.clone(),
        ));
        open_members(
            &sh,
            &url,
            1..early + 1,
            false,
            o.connect_concurrency,
            &close_rx,
            &mut tasks,
        )
        .await?;
        tokio::time::sleep(Duration::from_millis(o.settle_ms)).await;

        let rss_idle = rss_kib(o.server_pid);
        let c0 = cpu_sample(o.server_pid);
        let t0 = Instant::now();
        let mut c1 = c0;
        let mut c2 = c0;
        let mut t_pause = Duration::ZERO;
        let mut rand = Rng::new(0xC0FF_EE00_1234_5678);
        for k in 0..sh.msgs.len() {
            if k == sh.half {
                // Everything before the half-way point reached everyone,
                // then the late joiners connect, outside the measurement.
                wait_reached(&sh, k - 1).await;
                c1 = cpu_sample(o.server_pid);
                let tp = Instant::now();
                let first = early + 1;
                open_members(
                    &sh,
                    &url,
                    first..first + late,
                    true,
                    o.connect_concurrency,
                    &close_rx,
                    &mut tasks,
                )
                .await?;
                tokio::time::sleep(Duration::from_millis(o.settle_ms)).await;
                t_pause = tp.elapsed();
                c2 = cpu_sample(o.server_pid);
            }
            if k >= o.window {
                wait_reached(&sh, k - o.window).await;
            }
            let m = &sh.msgs[k];
            let frame = client_frame(if m.binary { 2 } else { 1 }, &m.data, &mut rand);
            sh.sent_at[k].store(sh.now_ns(), Relaxed);
            sh.sent.store(k + 1, Relaxed);
            wr.lock()
                .await
                .write_all(&frame)
                .await
                .map_err(|e| format!("sender: write: {e}"))?;
        }
        let members = 1 + early + late;
        loop {
            let notified = sh.done_notify.notified();
            if sh.done.load(Relaxed) >= members {
                break;
            }
            notified.await;
        }
        let c3 = cpu_sample(o.server_pid);
        let t_msgs = t0.elapsed() - t_pause;
        let rss_end = rss_kib(o.server_pid);
        Ok::<_, String>(Phases {
            c0,
            c1,
            c2,
            c3,
            rss_idle,
            rss_end,
            t_msgs,
        })
    };
    let res = match tokio::time::timeout(Duration::from_secs(o.timeout), body).await {
        Ok(r) => r,
        Err(_) => {
            let members = 1 + o.receivers;
            Err(format!(
                "timeout after {} s: {} of {members} members have the last message; {} of {} messages sent",
                o.timeout,
                sh.done.load(Relaxed),
                sh.sent.load(Relaxed),
                sh.msgs.len()
            ))
        }
    };
    // Close everything (the server's CPU is no longer measured).
    sh.closing.store(true, Relaxed);
    let _ = close_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    tasks.abort_all();
    res
}

fn main() {
    let o = parse_args();
    let (msgs, corpus_name, distinct) = match load_messages(&o) {
        Ok(v) => v,
        Err(e) => usage(&e),
    };
    if o.corpus_stats {
        println!("{}", corpus_stats_json(&msgs, &corpus_name, distinct));
        return;
    }
    let url = match parse_url(&o.url) {
        Ok(u) => Arc::new(u),
        Err(e) => usage(&e),
    };
    let m = msgs.len();
    let late = o.receivers * o.late_percent / 100;
    let sh = Arc::new(Shared {
        max_len: msgs.iter().map(|m| m.data.len()).max().unwrap_or(0),
        half: m / 2,
        fixed: (1 + o.receivers - late) as u32,
        count: (0..m).map(|_| AtomicU32::new(0)).collect(),
        last_arrival: (0..m).map(|_| AtomicU64::new(0)).collect(),
        sent_at: (0..m).map(|_| AtomicU64::new(0)).collect(),
        sent: AtomicUsize::new(0),
        late_first: Mutex::new(Vec::new()),
        progress: Notify::new(),
        done: AtomicUsize::new(0),
        done_notify: Notify::new(),
        deliveries: AtomicU64::new(0),
        payload: AtomicU64::new(0),
        wire: AtomicU64::new(0),
        compressed: AtomicU64::new(0),
        pings: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        mismatches: AtomicU64::new(0),
        samples: Mutex::new(Vec::new()),
        extensions: Mutex::new(None),
        extensions_differ: AtomicU64::new(0),
        closing: AtomicBool::new(false),
        t_base: Instant::now(),
        msgs,
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(o.threads)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let res = rt.block_on(run(&o, sh.clone(), url));
    rt.shutdown_timeout(Duration::from_secs(1));

    let phases = match res {
        Ok(p) => Some(p),
        Err(e) => {
            sh.fail(e, false);
            None
        }
    };
    // Every member must have every message from its join point on.
    let mut late_first = sh
        .late_first
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    late_first.sort_unstable();
    let expected_deliveries = (1 + o.receivers - late) as u64 * m as u64
        + late_first.iter().map(|&j| (m - j) as u64).sum::<u64>();
    let deliveries = sh.deliveries.load(Relaxed);
    if phases.is_some() && (late_first.len() != late || deliveries != expected_deliveries) {
        sh.fail(
            format!(
                "{deliveries} deliveries, expected {expected_deliveries} ({} of {late} late joiners received)",
                late_first.len()
            ),
            false,
        );
    }
    let by_msg: Vec<(usize, f64)> = (0..m)
        .filter_map(|k| {
            let (s, a) = (
                sh.sent_at[k].load(Relaxed),
                sh.last_arrival[k].load(Relaxed),
            );
            (a >= s && s > 0).then(|| (k, (a - s) as f64 / 1e6))
        })
        .collect();
    let mut fanout: Vec<f64> = by_msg.iter().map(|&(_, t)| t).collect();
    fanout.sort_by(f64::total_cmp);
    let mut slowest = by_msg.clone();
    slowest.sort_by(|a, b| b.1.total_cmp(&a.1));
    let slowest = slowest
        .iter()
        .take(5)
        .map(|(k, t)| format!("[{k},{t:.3}]"))
        .collect::<Vec<_>>()
        .join(",");

    let errors = sh.errors.load(Relaxed);
    let mismatches = sh.mismatches.load(Relaxed);
    let d = deliveries.max(1) as f64;
    let mut j = String::new();
    let _ = write!(
        j,
        "{{\"client\":\"broadcast-load (raw RFC 6455, zlib-rs inflate)\",\"offer\":{},\"url\":{},\"receivers\":{},\"late\":{late},\"messages\":{m},\"window\":{},\"corpus\":{}",
        json_str(OFFER),
        json_str(&o.url),
        o.receivers,
        o.window,
        corpus_stats_json(&sh.msgs, &corpus_name, distinct)
    );
    let _ = write!(
        j,
        ",\"extensions\":{},\"extensions_differ\":{},\"errors\":{errors},\"mismatches\":{mismatches},\"error_samples\":[{}]",
        json_str(sh.extensions.lock().unwrap_or_else(|e| e.into_inner()).as_deref().unwrap_or("")),
        sh.extensions_differ.load(Relaxed),
        sh.samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|s| json_str(s))
            .collect::<Vec<_>>()
            .join(",")
    );
    let late_at_half = late_first.iter().filter(|&&f| f == m / 2).count();
    let _ = write!(
        j,
        ",\"deliveries\":{deliveries},\"deliveries_expected\":{expected_deliveries},\"late_first_min\":{},\"late_first_max\":{},\"late_at_join_point\":{late_at_half},\"join_point\":{}",
        late_first.first().copied().unwrap_or(0),
        late_first.last().copied().unwrap_or(0),
        m / 2
    );
    let (payload, wire, comp) = (
        sh.payload.load(Relaxed),
        sh.wire.load(Relaxed),
        sh.compressed.load(Relaxed),
    );
    let _ = write!(
        j,
        ",\"payload_bytes\":{payload},\"wire_bytes\":{wire},\"wire_per_delivery\":{:.2},\"payload_per_delivery\":{:.2},\"compressed_deliveries\":{comp},\"compressed_share\":{:.4},\"pings\":{}",
        wire as f64 / d,
        payload as f64 / d,
        comp as f64 / d,
        sh.pings.load(Relaxed)
    );
    if let Some(p) = &phases {
        let ticks = (p.c1.ticks - p.c0.ticks) + (p.c3.ticks - p.c2.ticks);
        let ns = (p.c1.ns.saturating_sub(p.c0.ns)) + (p.c3.ns.saturating_sub(p.c2.ns));
        let secs = p.t_msgs.as_secs_f64();
        let _ = write!(
            j,
            ",\"server_pid\":{},\"clk_tck\":{},\"cpu_ticks\":{ticks},\"cpu_ns_threads\":{ns},\"cpu_us_per_delivery\":{:.4},\"cpu_us_per_delivery_schedstat\":{:.4},\"late_join_cpu_ticks\":{},\"late_join_cpu_ns\":{}",
            o.server_pid.unwrap_or(0),
            o.clk_tck,
            ticks as f64 * 1e6 / o.clk_tck as f64 / d,
            ns as f64 / 1e3 / d,
            p.c2.ticks - p.c1.ticks,
            p.c2.ns.saturating_sub(p.c1.ns)
        );
        let _ = write!(
            j,
            ",\"elapsed_s\":{secs:.3},\"deliveries_per_s\":{:.0},\"fanout_p50_ms\":{:.3},\"fanout_p99_ms\":{:.3},\"fanout_max_ms\":{:.3},\"fanout_slowest\":[{slowest}],\"rss_idle_kib\":{},\"rss_end_kib\":{}",
            d / secs.max(1e-9),
            quantile(&fanout, 0.5),
            quantile(&fanout, 0.99),
            fanout.last().copied().unwrap_or(0.0),
            p.rss_idle,
            p.rss_end
        );
    }
    j.push('}');
    println!("{j}");
    std::process::exit(if errors > 0 || mismatches > 0 || phases.is_none() {
        1
    } else {
        0
    });
}
