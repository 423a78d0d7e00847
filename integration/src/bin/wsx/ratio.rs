//! `wsx ratio`: compare permessage-deflate settings on your own payloads
//! (or the built-in corpora): compression ratio, bytes on the wire with
//! frame headers, compress and decompress speed, and server memory per
//! connection, as a terminal table, CSV, JSON and an SVG chart.
//!
//! Each input is a sequence of messages sent server to client through a
//! negotiated permessage-deflate pair (the ws-ext-core stacks a wsx
//! connection runs). A file is one message (or `--split` pieces); a
//! directory is each file under it. With no input the built-in corpora
//! (chat-json, logs, html, binary) are used at each `--sizes` message size.
//!
//! - ratio: message bytes / compressed payload bytes.
//! - wire: bytes on the wire server to client, frame headers included
//!   (unmasked; a client adds 4 mask bytes per frame).
//! - speed: message bytes per second through `SendStack::encode` /
//!   `RecvStack::decode`, each pass from a fresh connection; the fastest
//!   of the passes run in `--time` counts (the least disturbed by other
//!   load on the machine).
//! - memory: heap held by the server side of one connection after it has
//!   received one compressed message and sent one (so every lazily created
//!   state exists), averaged over `--conns` connections sharing one factory
//!   (as a server's connections do: in no-context-takeover modes idle state
//!   goes back to the factory's shared pool). Measured with glibc's
//!   `mallinfo2`; elsewhere from the process RSS.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use ws_deflate::{DeflateConfig, PerMessageDeflateClient, PerMessageDeflateServer};
use ws_ext_core::{ClientNegotiator, Frame, OpCode, RecvStack, SendStack, ServerNegotiator};

use crate::corpus::{self, Kind};
use crate::load::json_str;

/// `wsx ratio` options.
#[derive(Debug, Args)]
pub struct RatioArgs {
    /// Files or directories of payloads (default: the built-in corpora).
    #[arg(value_name = "FILES_OR_DIRS")]
    pub inputs: Vec<PathBuf>,
    /// Built-in corpora: message sizes in bytes (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "256,4096,65536")]
    pub sizes: Vec<usize>,
    /// Built-in corpora: bytes of messages per input.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    pub total: usize,
    /// Split each file into messages of this many bytes.
    #[arg(long, value_name = "BYTES")]
    pub split: Option<usize>,
    /// Print CSV instead of the table.
    #[arg(long, conflicts_with = "json")]
    pub csv: bool,
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also draw an SVG chart to this file.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Minimum time spent timing each speed figure, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 300)]
    pub time: u64,
    /// Server connections opened for the memory figure.
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub conns: usize,
}

/// A named policy (`None`: permessage-deflate off).
struct Setting {
    name: &'static str,
    flags: &'static str,
    cfg: Option<DeflateConfig>,
}

fn settings() -> Vec<Setting> {
    let d = DeflateConfig::default();
    let nct = DeflateConfig {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        ..d.clone()
    };
    vec![
        Setting {
            name: "off",
            flags: "--no-deflate",
            cfg: None,
        },
        Setting {
            name: "default",
            flags: "(defaults: level 6, 15 bits, context takeover)",
            cfg: Some(d.clone()),
        },
        Setting {
            name: "level1",
            flags: "--deflate-level 1",
            cfg: Some(DeflateConfig {
                level: 1,
                ..d.clone()
            }),
        },
        Setting {
            name: "level9",
            flags: "--deflate-level 9",
            cfg: Some(DeflateConfig {
                level: 9,
                ..d.clone()
            }),
        },
        Setting {
            name: "window12",
            flags: "--server-max-window-bits 12 --client-max-window-bits 12",
            cfg: Some(DeflateConfig {
                server_max_window_bits: Some(12),
                client_max_window_bits: Some(12),
                ..d.clone()
            }),
        },
        Setting {
            name: "window9",
            flags: "--server-max-window-bits 9 --client-max-window-bits 9",
            cfg: Some(DeflateConfig {
                server_max_window_bits: Some(9),
                client_max_window_bits: Some(9),
                ..d.clone()
            }),
        },
        Setting {
            name: "lean",
            flags: "--server-max-window-bits 10 --client-max-window-bits 10, memLevel 2 (DeflateConfig::mem_level; no flag)",
            cfg: Some(DeflateConfig {
                server_max_window_bits: Some(10),
                client_max_window_bits: Some(10),
                mem_level: 2,
                ..d.clone()
            }),
        },
        Setting {
            name: "no-ctx",
            flags: "--server-no-context-takeover --client-no-context-takeover",
            cfg: Some(nct.clone()),
        },
        Setting {
            name: "no-ctx-l1",
            flags: "--server-no-context-takeover --client-no-context-takeover --deflate-level 1",
            cfg: Some(DeflateConfig { level: 1, ..nct }),
        },
    ]
}

/// One input: a sequence of messages.
struct Input {
    name: String,
    messages: Vec<Vec<u8>>,
    text: bool,
}

/// One (input, setting) measurement.
struct Row {
    input: String,
    setting: &'static str,
    messages: usize,
    raw: u64,
    payload: u64,
    wire: u64,
    compress_mbps: Option<f64>,
    decompress_mbps: Option<f64>,
    mem_per_conn: Option<f64>,
}

impl Row {
    fn ratio(&self) -> f64 {
        self.raw as f64 / (self.payload as f64).max(1.0)
    }
    fn wire_pct(&self) -> f64 {
        100.0 * self.wire as f64 / (self.raw as f64).max(1.0)
    }
}

fn collect_files(p: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let meta = std::fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
            .map_err(|e| format!("{}: {e}", p.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            collect_files(&e, out)?;
        }
    } else if meta.is_file() {
        out.push(p.to_path_buf());
    }
    Ok(())
}

fn inputs(args: &RatioArgs) -> Result<Vec<Input>, String> {
    if args.inputs.is_empty() {
        let mut v = Vec::new();
        for kind in Kind::ALL {
            for &size in &args.sizes {
                if size == 0 {
                    return Err("--sizes: a message size must be at least 1".into());
                }
                v.push(Input {
                    name: format!("{}/{}", kind.name(), size_name(size)),
                    messages: corpus::batch(kind, size, args.total, 4096, 11),
                    text: kind.is_text(),
                });
            }
        }
        return Ok(v);
    }
    let mut v = Vec::new();
    for p in &args.inputs {
        let mut files = Vec::new();
        collect_files(p, &mut files)?;
        let mut messages = Vec::new();
        for f in files {
            let data = std::fs::read(&f).map_err(|e| format!("{}: {e}", f.display()))?;
            match args.split {
                Some(n) if n > 0 => messages.extend(data.chunks(n).map(<[u8]>::to_vec)),
                _ => messages.push(data),
            }
        }
        if messages.is_empty() {
            return Err(format!("{}: no files", p.display()));
        }
        let text = messages.iter().all(|m| std::str::from_utf8(m).is_ok());
        v.push(Input {
            name: p.display().to_string(),
            messages,
            text,
        });
    }
    Ok(v)
}

fn size_name(n: usize) -> String {
    if n >= 1 << 20 && n % (1 << 20) == 0 {
        format!("{}MiB", n >> 20)
    } else if n >= 1024 && n % 1024 == 0 {
        format!("{}KiB", n >> 10)
    } else {
        format!("{n}B")
    }
}

/// A connected pair: the server factory (with its pool), the server's
/// stack halves and the client's.
fn pair(cfg: &DeflateConfig) -> Result<(SendStack, RecvStack), String> {
    let client = client_negotiator(cfg);
    let server = ServerNegotiator::new().with(PerMessageDeflateServer::new(cfg.clone()));
    let (s, c) = handshake(&client, &server)?;
    Ok((s.0, c.1))
}

fn client_negotiator(cfg: &DeflateConfig) -> ClientNegotiator {
    // The client offers what lets the server apply its whole policy.
    let offer = DeflateConfig {
        level: cfg.level,
        client_max_window_bits: cfg.client_max_window_bits,
        client_no_context_takeover: cfg.client_no_context_takeover,
        ..DeflateConfig::default()
    };
    ClientNegotiator::new().with(PerMessageDeflateClient::new(offer))
}

type Halves = (SendStack, RecvStack);

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

fn frame(text: bool, m: &[u8]) -> Frame {
    Frame::new(
        true,
        if text { OpCode::Text } else { OpCode::Binary },
        m.to_vec(),
    )
}

fn measure(
    input: &Input,
    setting: &Setting,
    min_time: Duration,
    conns: usize,
) -> Result<Row, String> {
    let raw: u64 = input.messages.iter().map(|m| m.len() as u64).sum();
    let mut row = Row {
        input: input.name.clone(),
        setting: setting.name,
        messages: input.messages.len(),
        raw,
        payload: raw,
        wire: input
            .messages
            .iter()
            .map(|m| header_len(m.len()) + m.len() as u64)
            .sum(),
        compress_mbps: None,
        decompress_mbps: None,
        mem_per_conn: None,
    };
    let Some(cfg) = &setting.cfg else {
        return Ok(row);
    };
    let frames: Vec<Frame> = input
        .messages
        .iter()
        .map(|m| frame(input.text, m))
        .collect();

    // First pass: sizes, and a check that every message comes back intact.
    let (mut tx, mut rx) = pair(cfg)?;
    let mut wire_frames = Vec::with_capacity(frames.len());
    for (f, m) in frames.iter().zip(&input.messages) {
        let z = tx.encode(f.clone()).map_err(|e| format!("compress: {e}"))?;
        let back = rx
            .decode(z.clone(), usize::MAX)
            .map_err(|e| format!("decompress: {e}"))?;
        if back.payload[..] != m[..] {
            return Err(format!(
                "{}: {} did not round-trip",
                input.name, setting.name
            ));
        }
        wire_frames.push(z);
    }
    row.payload = wire_frames.iter().map(|f| f.payload.len() as u64).sum();
    row.wire = wire_frames
        .iter()
        .map(|f| header_len(f.payload.len()) + f.payload.len() as u64)
        .sum();

    // Speed: whole passes, each from a fresh connection, until min_time is
    // spent; the fastest pass counts (the least disturbed by other load).
    let mut best = Duration::MAX;
    let mut spent = Duration::ZERO;
    while best == Duration::MAX || spent < min_time {
        let (mut tx, _) = pair(cfg)?;
        let t = Instant::now();
        for f in &frames {
            std::hint::black_box(tx.encode(f.clone()).map_err(|e| format!("compress: {e}"))?);
        }
        let d = t.elapsed();
        best = best.min(d);
        spent += d;
    }
    row.compress_mbps = Some(mbps(raw, best));
    let mut best = Duration::MAX;
    let mut spent = Duration::ZERO;
    while best == Duration::MAX || spent < min_time {
        let (_, mut rx) = pair(cfg)?;
        let t = Instant::now();
        for f in &wire_frames {
            std::hint::black_box(
                rx.decode(f.clone(), usize::MAX)
                    .map_err(|e| format!("decompress: {e}"))?,
            );
        }
        let d = t.elapsed();
        best = best.min(d);
        spent += d;
    }
    row.decompress_mbps = Some(mbps(raw, best));
    row.mem_per_conn = server_memory(cfg, &frames[0], conns)?;
    Ok(row)
}

fn mbps(bytes: u64, t: Duration) -> f64 {
    bytes as f64 / 1e6 / t.as_secs_f64().max(1e-9)
}

/// Heap held per server connection after one message each way.
fn server_memory(cfg: &DeflateConfig, msg: &Frame, conns: usize) -> Result<Option<f64>, String> {
    let conns = conns.max(1);
    let client = client_negotiator(cfg);
    let server = ServerNegotiator::new().with(PerMessageDeflateServer::new(cfg.clone()));
    // Everything the clients do happens before the measured window.
    let mut pending = Vec::with_capacity(conns);
    for _ in 0..conns {
        let offer = client.offer_header().ok_or("no offer")?;
        let s = server
            .negotiate([offer.as_bytes()])
            .map_err(|e| format!("server negotiation: {e}"))?;
        let response = s.response_header().ok_or("declined")?;
        let (mut ctx, _) = client
            .finish([response.as_bytes()])
            .map_err(|e| format!("client negotiation: {e}"))?
            .split();
        let z = ctx
            .encode(msg.clone())
            .map_err(|e| format!("compress: {e}"))?;
        pending.push((s, z));
    }
    let mut held: Vec<Halves> = Vec::with_capacity(conns);
    let before = heap::in_use();
    for (s, z) in pending.drain(..) {
        let (mut tx, mut rx) = s.split();
        drop(
            rx.decode(z, usize::MAX)
                .map_err(|e| format!("decompress: {e}"))?,
        );
        drop(
            tx.encode(msg.clone())
                .map_err(|e| format!("compress: {e}"))?,
        );
        held.push((tx, rx));
    }
    let after = heap::in_use();
    drop(held);
    Ok(match (before, after) {
        (Some(b), Some(a)) => Some(a.saturating_sub(b) as f64 / conns as f64),
        _ => None,
    })
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod heap {
    /// glibc's `struct mallinfo2`.
    #[repr(C)]
    struct Mallinfo2 {
        arena: usize,
        ordblks: usize,
        smblks: usize,
        hblks: usize,
        hblkhd: usize,
        usmblks: usize,
        fsmblks: usize,
        uordblks: usize,
        fordblks: usize,
        keepcost: usize,
    }

    extern "C" {
        fn mallinfo2() -> Mallinfo2;
    }

    /// Bytes of heap in use (main arena plus mmapped chunks). The caller
    /// runs on the main thread, whose allocations use the main arena.
    pub fn in_use() -> Option<usize> {
        // SAFETY: mallinfo2 takes no arguments and returns a plain struct
        // (glibc ≥ 2.33).
        let m = unsafe { mallinfo2() };
        Some(m.uordblks + m.hblkhd)
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod heap {
    /// The process RSS in bytes, from /proc (Linux), else unknown.
    pub fn in_use() -> Option<usize> {
        let s = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kb: usize = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    }
}

/// Run the report.
pub async fn run(args: RatioArgs) -> Result<(), String> {
    // Synchronous work on purpose: the memory figure reads the main arena,
    // so everything is allocated on this (the main) thread.
    let inputs = inputs(&args)?;
    let settings = settings();
    let total = (inputs.len() * settings.len()) as u64;
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed} {msg}")
            .map_err(|e| e.to_string())?,
    );
    let min_time = Duration::from_millis(args.time);
    let mut rows = Vec::with_capacity(total as usize);
    for input in &inputs {
        for s in &settings {
            bar.set_message(format!("{} {}", input.name, s.name));
            rows.push(measure(input, s, min_time, args.conns)?);
            bar.inc(1);
        }
    }
    bar.finish_and_clear();

    let out = if args.csv {
        csv(&rows)
    } else if args.json {
        json(&rows)
    } else {
        table(&rows, &settings)
    };
    std::io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .map_err(|e| e.to_string())?;
    if let Some(path) = &args.svg {
        chart(path, &inputs, &settings, &rows)?;
        eprintln!("chart written to {}", path.display());
    }
    Ok(())
}

fn opt(v: Option<f64>, prec: usize) -> String {
    v.map_or_else(|| "-".to_owned(), |x| format!("{x:.prec$}"))
}

fn table(rows: &[Row], settings: &[Setting]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<22} {:<10} {:>7} {:>12} {:>7} {:>10} {:>10} {:>11}",
        "input",
        "setting",
        "ratio",
        "wire bytes",
        "wire %",
        "comp MB/s",
        "decomp MB/s",
        "mem/conn KiB"
    );
    let mut last = "";
    for r in rows {
        if !last.is_empty() && last != r.input {
            s.push('\n');
        }
        last = &r.input;
        let _ = writeln!(
            s,
            "{:<22} {:<10} {:>7.2} {:>12} {:>6.1}% {:>10} {:>10} {:>11}",
            r.input,
            r.setting,
            r.ratio(),
            r.wire,
            r.wire_pct(),
            opt(r.compress_mbps, 0),
            opt(r.decompress_mbps, 0),
            opt(r.mem_per_conn.map(|b| b / 1024.0), 1)
        );
    }
    let _ = writeln!(s, "\nsettings (wsx serve flags):");
    for st in settings {
        let _ = writeln!(s, "  {:<10} {}", st.name, st.flags);
    }
    let _ = writeln!(
        s,
        "ratio = message bytes / compressed payload; wire = server-to-client bytes with frame headers; \
speeds = message bytes/s through the extension stack (fastest pass); mem/conn = server heap per connection after one message each way"
    );
    s
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn csv(rows: &[Row]) -> String {
    let mut s = String::from(
        "input,setting,messages,message_bytes,payload_bytes,wire_bytes,ratio,compress_mb_s,decompress_mb_s,mem_per_conn_bytes\n",
    );
    for r in rows {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{:.4},{},{},{}",
            csv_field(&r.input),
            r.setting,
            r.messages,
            r.raw,
            r.payload,
            r.wire,
            r.ratio(),
            opt(r.compress_mbps, 1).replace('-', ""),
            opt(r.decompress_mbps, 1).replace('-', ""),
            opt(r.mem_per_conn, 0).replace('-', "")
        );
    }
    s
}

fn json(rows: &[Row]) -> String {
    let num = |v: Option<f64>| v.map_or_else(|| "null".to_owned(), |x| format!("{x:.3}"));
    let items: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{{\"input\":{},\"setting\":\"{}\",\"messages\":{},\"message_bytes\":{},\"payload_bytes\":{},\
\"wire_bytes\":{},\"ratio\":{:.4},\"compress_mb_s\":{},\"decompress_mb_s\":{},\"mem_per_conn_bytes\":{}}}",
                json_str(&r.input),
                r.setting,
                r.messages,
                r.raw,
                r.payload,
                r.wire,
                r.ratio(),
                num(r.compress_mbps),
                num(r.decompress_mbps),
                num(r.mem_per_conn)
            )
        })
        .collect();
    format!("[\n{}\n]\n", items.join(",\n"))
}

/// One panel per input: a bar per setting (height: compression ratio,
/// label: compress MB/s).
fn chart(path: &Path, inputs: &[Input], settings: &[Setting], rows: &[Row]) -> Result<(), String> {
    use plotters::prelude::*;
    use plotters::style::text_anchor::{HPos, Pos, VPos};

    let err = |e: &dyn std::fmt::Display| format!("chart: {e}");
    let cols = if inputs.len() >= 3 {
        3
    } else {
        inputs.len().max(1)
    };
    let nrows = inputs.len().div_ceil(cols).max(1);
    let (w, h) = (460 * cols as u32, 60 + 300 * nrows as u32);
    let root = SVGBackend::new(path, (w, h)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let (top, body) = root.split_vertically(60);
    top.draw(&Text::new(
        "wsx ratio: compression ratio per permessage-deflate setting (bar label: compress MB/s)",
        (12, 12),
        ("sans-serif", 20).into_font(),
    ))
    .map_err(|e| err(&e))?;
    top.draw(&Text::new(
        "higher bar = fewer bytes; 'off' = no compression (ratio 1)",
        (12, 38),
        ("sans-serif", 14).into_font().color(&BLACK.mix(0.6)),
    ))
    .map_err(|e| err(&e))?;
    let panels = body.split_evenly((nrows, cols));
    let n = settings.len();
    for (panel, input) in panels.iter().zip(inputs) {
        let mine: Vec<&Row> = rows.iter().filter(|r| r.input == input.name).collect();
        let top_ratio = mine.iter().map(|r| r.ratio()).fold(1.0f64, f64::max) * 1.2;
        let mut c = ChartBuilder::on(panel)
            .caption(&input.name, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(34)
            .y_label_area_size(42)
            .build_cartesian_2d((0..n - 1).into_segmented(), 0f64..top_ratio)
            .map_err(|e| err(&e))?;
        c.configure_mesh()
            .disable_x_mesh()
            .y_desc("ratio")
            .x_labels(n)
            .x_label_style(("sans-serif", 10))
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                    settings.get(*i).map_or("", |s| s.name).to_owned()
                }
                SegmentValue::Last => String::new(),
            })
            .draw()
            .map_err(|e| err(&e))?;
        for (i, r) in mine.iter().enumerate() {
            let color = Palette99::pick(i).mix(0.85);
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0.0),
                    (SegmentValue::Exact(i + 1), r.ratio()),
                ],
                color.filled(),
            );
            bar.set_margin(0, 0, 4, 4);
            c.draw_series(std::iter::once(bar)).map_err(|e| err(&e))?;
            let label = r
                .compress_mbps
                .map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"));
            let style = TextStyle::from(("sans-serif", 10).into_font())
                .pos(Pos::new(HPos::Center, VPos::Bottom));
            c.draw_series(std::iter::once(Text::new(
                label,
                (SegmentValue::CenterOf(i), r.ratio() + top_ratio * 0.01),
                style,
            )))
            .map_err(|e| err(&e))?;
        }
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
