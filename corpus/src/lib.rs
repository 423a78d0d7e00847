//! Built-in message corpora, generated deterministically (no data files):
//! chat-like JSON, log lines, HTML and structured binary records.
//!
//! Shared by `wsx ratio`, `wsx load`, the criterion benches and the
//! ws-deflate examples, so every report measures the same bytes.
//! Only `std` is used. Every text corpus is ASCII, so a message cut at any
//! byte is valid UTF-8.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// A kind of payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Chat-like JSON events (`{"type":"message","user":...,"text":...}`).
    Chat,
    /// Server log lines (timestamp, level, component, request, latency).
    Logs,
    /// An HTML page (tags, classes, links, prose).
    Html,
    /// Telemetry records: little-endian integers and floats with noise.
    Binary,
}

impl Kind {
    /// Every built-in corpus, in report order.
    pub const ALL: [Kind; 4] = [Kind::Chat, Kind::Logs, Kind::Html, Kind::Binary];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Chat => "chat-json",
            Kind::Logs => "logs",
            Kind::Html => "html",
            Kind::Binary => "binary",
        }
    }

    /// Parse a name given by [`Kind::name`] (also `chat`, `json`, `log`, `bin`).
    pub fn parse(s: &str) -> Option<Kind> {
        match s.to_ascii_lowercase().as_str() {
            "chat-json" | "chat" | "json" => Some(Kind::Chat),
            "logs" | "log" => Some(Kind::Logs),
            "html" => Some(Kind::Html),
            "binary" | "bin" => Some(Kind::Binary),
            _ => None,
        }
    }

    /// Whether messages of this corpus are sent as text.
    pub fn is_text(self) -> bool {
        !matches!(self, Kind::Binary)
    }
}

/// A small deterministic PRNG (SplitMix64): the same seed gives the same
/// corpus on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// One element of a non-empty slice.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const WORDS: &[&str] = &[
    "the",
    "a",
    "to",
    "and",
    "of",
    "in",
    "is",
    "it",
    "you",
    "that",
    "for",
    "on",
    "with",
    "this",
    "we",
    "can",
    "have",
    "be",
    "are",
    "not",
    "just",
    "deploy",
    "build",
    "server",
    "client",
    "message",
    "socket",
    "latency",
    "works",
    "broken",
    "fixed",
    "tomorrow",
    "today",
    "meeting",
    "coffee",
    "lunch",
    "review",
    "merge",
    "branch",
    "release",
    "ticket",
    "customer",
    "shipping",
    "compression",
    "window",
    "context",
    "really",
    "great",
    "thanks",
    "sure",
    "maybe",
    "later",
    "please",
    "check",
    "logs",
    "dashboard",
    "metrics",
    "alert",
    "queue",
    "database",
    "cache",
];
const USERS: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter",
];
const ROOMS: &[&str] = &["general", "random", "dev", "ops", "support", "release-2024"];
const LEVELS: &[&str] = &["INFO ", "INFO ", "INFO ", "DEBUG", "WARN ", "ERROR"];
const COMPONENTS: &[&str] = &["http", "db", "cache", "auth", "scheduler", "ws", "billing"];
const METHODS: &[&str] = &["GET", "GET", "GET", "POST", "PUT", "DELETE"];
const PATHS: &[&str] = &[
    "/api/v1/items",
    "/api/v1/users",
    "/api/v1/orders",
    "/static/app.js",
    "/health",
    "/api/v2/search",
];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "curl/8.5.0",
    "okhttp/4.12.0",
];
const TAGS: &[&str] = &["div", "p", "span", "li", "section", "article", "td"];
const CLASSES: &[&str] = &[
    "container",
    "row",
    "col-md-6",
    "btn btn-primary",
    "nav-item",
    "card-body",
    "text-muted",
    "list-group-item",
];

fn sentence(r: &mut Rng, out: &mut Vec<u8>, words: usize) {
    for i in 0..words {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(r.pick(WORDS).as_bytes());
    }
}

fn chat_record(r: &mut Rng, n: u64, out: &mut Vec<u8>) {
    let ts = 1_714_000_000_000u64 + n * 1_371 + r.below(1000);
    out.extend_from_slice(
        format!(
            "{{\"type\":\"message\",\"id\":{},\"room\":\"{}\",\"user\":\"{}\",\"ts\":{},\"text\":\"",
            100_000 + n * 7 + r.below(5),
            r.pick(ROOMS),
            r.pick(USERS),
            ts
        )
        .as_bytes(),
    );
    let w = 3 + r.below(14) as usize;
    sentence(r, out, w);
    out.extend_from_slice(b"\"");
    if r.below(4) == 0 {
        out.extend_from_slice(
            format!(
                ",\"reactions\":{{\"+1\":{},\"tada\":{}}}",
                r.below(9),
                r.below(3)
            )
            .as_bytes(),
        );
    }
    out.extend_from_slice(b"}\n");
}

fn log_record(r: &mut Rng, n: u64, out: &mut Vec<u8>) {
    let secs = 43_200 + n / 3;
    out.extend_from_slice(
        format!(
            "2024-05-01T{:02}:{:02}:{:02}.{:03}Z {} [worker-{}] {}: {} {}/{} {} {}.{}ms ua=\"{}\" req_id={:016x}\n",
            secs / 3600 % 24,
            secs / 60 % 60,
            secs % 60,
            r.below(1000),
            r.pick(LEVELS),
            r.below(8),
            r.pick(COMPONENTS),
            r.pick(METHODS),
            r.pick(PATHS),
            r.below(100_000),
            [200, 200, 200, 201, 304, 404, 500][r.below(7) as usize],
            r.below(250),
            r.below(10),
            r.pick(AGENTS),
            r.next_u64()
        )
        .as_bytes(),
    );
}

fn html_record(r: &mut Rng, n: u64, out: &mut Vec<u8>) {
    if n % 40 == 0 {
        out.extend_from_slice(
            b"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Dashboard</title>\
<link rel=\"stylesheet\" href=\"/static/css/main.css\"></head><body>\n",
        );
    }
    let tag = r.pick(TAGS);
    out.extend_from_slice(
        format!("  <{tag} class=\"{}\" id=\"el-{n}\">", r.pick(CLASSES)).as_bytes(),
    );
    let w = 4 + r.below(20) as usize;
    sentence(r, out, w);
    if r.below(3) == 0 {
        out.extend_from_slice(
            format!(
                " <a href=\"/{}/{}\" class=\"link\">{}</a>",
                r.pick(ROOMS),
                r.below(10_000),
                r.pick(WORDS)
            )
            .as_bytes(),
        );
    }
    out.extend_from_slice(format!("</{tag}>\n").as_bytes());
}

fn binary_record(r: &mut Rng, n: u64, out: &mut Vec<u8>) {
    // 32-byte telemetry record: time, sensor, readings with noise, flags.
    let t = (n as u32)
        .wrapping_mul(250)
        .wrapping_add(r.below(16) as u32);
    out.extend_from_slice(&t.to_le_bytes());
    out.extend_from_slice(&(r.below(24) as u16).to_le_bytes());
    out.extend_from_slice(&[0xA5, (n % 4) as u8]);
    for base in [21.5f32, 1013.25, 48.0] {
        let v = base + (r.below(2000) as f32 - 1000.0) / 100.0;
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&(r.below(4096) as u32).to_le_bytes());
    out.extend_from_slice(&[0u8; 4]);
    out.extend_from_slice(&(r.next_u64() as u32 & 0x0F0F_0F0F).to_le_bytes());
}

/// Append records of `kind` to `out` until it holds at least `len` bytes,
/// then cut it to exactly `len`.
pub fn fill(kind: Kind, r: &mut Rng, len: usize, out: &mut Vec<u8>) {
    let start = out.len();
    let mut n = r.below(1 << 20);
    while out.len() - start < len {
        match kind {
            Kind::Chat => chat_record(r, n, out),
            Kind::Logs => log_record(r, n, out),
            Kind::Html => html_record(r, n, out),
            Kind::Binary => binary_record(r, n, out),
        }
        n += 1;
    }
    out.truncate(start + len);
}

/// `count` distinct messages of exactly `size` bytes each. Message `i` is
/// the same for a given (kind, size, seed) on every run.
pub fn messages(kind: Kind, size: usize, count: usize, seed: u64) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            let mut r =
                Rng::new(seed.wrapping_mul(0x1000_0001) ^ (i as u64) ^ ((size as u64) << 32));
            let mut v = Vec::with_capacity(size);
            fill(kind, &mut r, size, &mut v);
            v
        })
        .collect()
}

/// Enough distinct messages of `size` bytes that one pass over them spans
/// at least `min_total` bytes (at least one message, at most `max_count`).
pub fn batch(
    kind: Kind,
    size: usize,
    min_total: usize,
    max_count: usize,
    seed: u64,
) -> Vec<Vec<u8>> {
    let count = min_total.div_ceil(size.max(1)).clamp(1, max_count.max(1));
    messages(kind, size, count, seed)
}

/// Distinct messages of mixed sizes between `min` and `max` bytes (both
/// included, `0 < min <= max`), until one pass over them spans at least
/// `min_total` bytes (at least one message, at most `max_count`).
///
/// Each doubling band of sizes (`min..2*min`, `2*min..4*min`, ... up to
/// `max`) is equally likely, uniform within the band, so short messages
/// outnumber long ones, as in chat traffic. Integer arithmetic only: the
/// same corpus on every machine.
pub fn mixed(
    kind: Kind,
    min: usize,
    max: usize,
    min_total: usize,
    max_count: usize,
    seed: u64,
) -> Vec<Vec<u8>> {
    let min = min.max(1);
    let max = max.max(min);
    let mut edges = vec![min];
    while edges.last().is_some_and(|&e| e.saturating_mul(2) < max) {
        let next = edges.last().map_or(min, |&e| e * 2);
        edges.push(next);
    }
    edges.push(max);
    let mut out = Vec::new();
    let mut total = 0usize;
    let mut i = 0u64;
    while out.is_empty() || (total < min_total && out.len() < max_count.max(1)) {
        let mut r = Rng::new(seed.wrapping_mul(0x2000_0003) ^ i ^ 0x5EED_0000_0000);
        let band = r.below((edges.len() - 1) as u64) as usize;
        let (lo, hi) = (edges[band], edges[band + 1]);
        let size = lo + r.below((hi - lo + 1) as u64) as usize;
        let mut v = Vec::with_capacity(size);
        fill(kind, &mut r, size, &mut v);
        total += size;
        out.push(v);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_exact_sizes_and_ascii_text() {
        for kind in Kind::ALL {
            let a = messages(kind, 300, 3, 7);
            assert_eq!(a, messages(kind, 300, 3, 7));
            assert!(a.iter().all(|m| m.len() == 300));
            assert_ne!(a[0], a[1]);
            if kind.is_text() {
                assert!(a.iter().all(|m| m.is_ascii()));
            }
            assert_eq!(Kind::parse(kind.name()), Some(kind));
        }
    }

    #[test]
    fn mixed_sizes_stay_in_range_and_are_deterministic() {
        let a = mixed(Kind::Chat, 200, 4096, 64 << 10, 4096, 3);
        assert_eq!(a, mixed(Kind::Chat, 200, 4096, 64 << 10, 4096, 3));
        assert!(a.iter().all(|m| (200..=4096).contains(&m.len())));
        assert!(a.iter().map(Vec::len).sum::<usize>() >= 64 << 10);
        assert!(a.iter().any(|m| m.len() < 400) && a.iter().any(|m| m.len() > 3200));
        assert_eq!(
            mixed(Kind::Logs, 5, 5, 0, 10, 1),
            vec![mixed(Kind::Logs, 5, 5, 0, 10, 1)[0].clone()]
        );
    }
}
