//! `wsx load`: a load generator for any WebSocket echo server.
//!
//! Opens `--connections` connections (all before the clock starts), then
//! each sends `--messages` messages from a corpus, waiting for each echo
//! (`--in-flight` messages outstanding per connection, 1 by default), and
//! checks that every echo equals what was sent. Reports messages per second
//! (round trips), p50/p99/max round-trip latency, bytes on the wire (both
//! directions, counted on the TCP sockets after the handshake, so frame
//! headers and masks are included), the compression ratio (payload bytes /
//! wire bytes) and connection errors. Bounded: the run stops after
//! `--timeout` seconds whatever is left.
//!
//! The report is printed in every case; the exit status is non-zero when
//! any connection failed.
//!
//! `--hold SECS` keeps the connections open and idle for that long after
//! the messages (printing `holding N connections` to stderr first), so a
//! script can read the server's memory per open connection.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::Barrier;
use wsx::{ClientConfig, Message, Target};

use crate::args::LoadArgs;
use crate::stats::{ConnStats, Counted};
use wsx_corpus::{self as corpus, Kind};

/// What one connection did.
#[derive(Debug, Default)]
struct ConnResult {
    /// Round-trip times in microseconds.
    rtts: Vec<u32>,
    payload: u64,
    wire_out: u64,
    wire_in: u64,
    extensions: Option<String>,
    connected: bool,
    error: Option<String>,
}

/// The whole run, as reported.
#[derive(Debug)]
pub struct Report {
    url: String,
    corpus: &'static str,
    size: usize,
    connections: usize,
    connected: usize,
    errors: usize,
    first_error: Option<String>,
    extensions: String,
    messages: u64,
    elapsed: Duration,
    p50_us: u32,
    p99_us: u32,
    max_us: u32,
    payload_bytes: u64,
    wire_out: u64,
    wire_in: u64,
}

impl Report {
    fn msgs_per_sec(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn ratio(&self) -> f64 {
        let wire = (self.wire_out + self.wire_in) as f64;
        if wire == 0.0 {
            0.0
        } else {
            (2 * self.payload_bytes) as f64 / wire
        }
    }

    fn to_json(&self) -> serde_json::Value {
        // Rounded as the text report rounds them.
        let round = |x: f64, digits: i32| {
            let m = 10f64.powi(digits);
            (x * m).round() / m
        };
        serde_json::json!({
            "url": self.url,
            "corpus": self.corpus,
            "size": self.size,
            "connections": self.connections,
            "connected": self.connected,
            "errors": self.errors,
            "first_error": self.first_error,
            "extensions": self.extensions,
            "messages": self.messages,
            "elapsed_s": round(self.elapsed.as_secs_f64(), 3),
            "msgs_per_s": round(self.msgs_per_sec(), 1),
            "p50_us": self.p50_us,
            "p99_us": self.p99_us,
            "max_us": self.max_us,
            "payload_bytes": self.payload_bytes,
            "wire_bytes_out": self.wire_out,
            "wire_bytes_in": self.wire_in,
            "compression_ratio": round(self.ratio(), 3),
        })
    }

    fn print_text(&self, out: &mut impl Write) -> std::io::Result<()> {
        writeln!(out, "target         {}", self.url)?;
        writeln!(
            out,
            "load           {} connections x {} B {} messages",
            self.connections, self.size, self.corpus
        )?;
        writeln!(
            out,
            "extensions     {}",
            if self.extensions.is_empty() {
                "(none)"
            } else {
                &self.extensions
            }
        )?;
        writeln!(
            out,
            "round trips    {} in {:.2} s = {:.0} msg/s",
            self.messages,
            self.elapsed.as_secs_f64(),
            self.msgs_per_sec()
        )?;
        writeln!(
            out,
            "latency        p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
            f64::from(self.p50_us) / 1e3,
            f64::from(self.p99_us) / 1e3,
            f64::from(self.max_us) / 1e3
        )?;
        writeln!(out, "payload        {} B each way", self.payload_bytes)?;
        writeln!(
            out,
            "wire           {} B sent, {} B received (frame headers included)",
            self.wire_out, self.wire_in
        )?;
        writeln!(out, "ratio          {:.2} (payload / wire)", self.ratio())?;
        writeln!(
            out,
            "errors         {} of {} connections{}",
            self.errors,
            self.connections,
            self.first_error
                .as_deref()
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default()
        )
    }
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Run the load and print the report.
pub async fn run(args: LoadArgs) -> Result<(), String> {
    let kind = Kind::parse(&args.corpus).ok_or_else(|| {
        format!(
            "unknown corpus {:?}; one of: chat-json, logs, html, binary",
            args.corpus
        )
    })?;
    if args.connections == 0 || args.in_flight == 0 {
        return Err("--connections and --in-flight must be at least 1".into());
    }
    let target = Target::parse(&args.url).map_err(|e| e.to_string())?;
    if target.tls {
        return Err("wsx load speaks ws:// only".into());
    }
    let mut config =
        ClientConfig::default().with_extensions(crate::extensions::client(&args.common)?);
    config.websocket.max_message_size = args.common.max_message_size;
    config.websocket.max_frame_size = args.common.max_message_size;
    let config = Arc::new(config);
    let target = Arc::new(target);

    // A shared pool of distinct messages; each connection starts elsewhere.
    let pool_len = args.messages.clamp(1, 256);
    let pool: Arc<Vec<Message>> = Arc::new(
        corpus::messages(kind, args.size, pool_len, 1)
            .into_iter()
            .map(|m| {
                if kind.is_text() {
                    // The text corpora are ASCII.
                    Message::text(String::from_utf8_lossy(&m).into_owned())
                } else {
                    Message::Binary(Bytes::from(m))
                }
            })
            .collect(),
    );

    let deadline = Instant::now() + Duration::from_secs(args.timeout.max(1));
    let ready = Arc::new(Barrier::new(args.connections + 1));
    let done = Arc::new(Barrier::new(args.connections + 1));
    let mut tasks = Vec::with_capacity(args.connections);
    for i in 0..args.connections {
        let (target, config, pool) = (target.clone(), config.clone(), pool.clone());
        let (ready, done) = (ready.clone(), done.clone());
        let (messages, in_flight, hold) = (args.messages, args.in_flight, args.hold);
        tasks.push(tokio::spawn(async move {
            let mut res = ConnResult::default();
            let conn = tokio::time::timeout_at(deadline.into(), open(&target, &config)).await;
            let conn = match conn {
                Ok(Ok(c)) => Some(c),
                Ok(Err(e)) => {
                    res.error = Some(e);
                    None
                }
                Err(_) => {
                    res.error = Some("connect timed out".into());
                    None
                }
            };
            ready.wait().await;
            let Some((mut ws, wire)) = conn else {
                done.wait().await;
                return res;
            };
            res.connected = true;
            res.extensions = ws.extensions().map(str::to_owned);
            let (w0, r0) = (wire.wire_out.load(Relaxed), wire.wire_in.load(Relaxed));
            let run = exchange(&mut ws, &pool, i, messages, in_flight, &mut res);
            match tokio::time::timeout_at(deadline.into(), run).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => res.error = Some(e),
                Err(_) => res.error = Some("run timed out".into()),
            }
            res.wire_out = wire.wire_out.load(Relaxed) - w0;
            res.wire_in = wire.wire_in.load(Relaxed) - r0;
            done.wait().await;
            if hold > 0 && res.error.is_none() {
                tokio::time::sleep(Duration::from_secs(hold)).await;
            }
            let _ = tokio::time::timeout(Duration::from_secs(5), ws.close()).await;
            res
        }));
    }
    ready.wait().await;
    let start = Instant::now();
    done.wait().await;
    let elapsed = start.elapsed();
    if args.hold > 0 {
        eprintln!(
            "holding {} connections for {} s",
            args.connections, args.hold
        );
    }
    let mut results = Vec::with_capacity(tasks.len());
    for t in tasks {
        results.push(
            t.await
                .map_err(|e| format!("connection task failed: {e}"))?,
        );
    }

    let mut rtts: Vec<u32> = results
        .iter()
        .flat_map(|r| r.rtts.iter().copied())
        .collect();
    rtts.sort_unstable();
    let errors: Vec<&ConnResult> = results.iter().filter(|r| r.error.is_some()).collect();
    let report = Report {
        url: args.url.clone(),
        corpus: kind.name(),
        size: args.size,
        connections: args.connections,
        connected: results.iter().filter(|r| r.connected).count(),
        errors: errors.len(),
        first_error: errors.first().and_then(|r| r.error.clone()),
        extensions: results
            .iter()
            .find_map(|r| r.extensions.clone())
            .unwrap_or_default(),
        messages: rtts.len() as u64,
        elapsed,
        p50_us: percentile(&rtts, 0.50),
        p99_us: percentile(&rtts, 0.99),
        max_us: rtts.last().copied().unwrap_or(0),
        payload_bytes: results.iter().map(|r| r.payload).sum(),
        wire_out: results.iter().map(|r| r.wire_out).sum(),
        wire_in: results.iter().map(|r| r.wire_in).sum(),
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", report.to_json()).map_err(|e| e.to_string())?;
    } else {
        report.print_text(&mut out).map_err(|e| e.to_string())?;
    }
    if report.errors > 0 {
        return Err(format!(
            "{} of {} connections failed",
            report.errors, report.connections
        ));
    }
    Ok(())
}

type Conn = wsx::WebSocketStream<Counted<TcpStream>>;

async fn open(target: &Target, config: &ClientConfig) -> Result<(Conn, Arc<ConnStats>), String> {
    let tcp = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let wire = Arc::new(ConnStats::default());
    let io = Counted::new(tcp, wire.clone());
    let (ws, _resp) = wsx::client_handshake(io, target, config)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    Ok((ws, wire))
}

fn same(a: &Message, b: &Message) -> bool {
    match (a, b) {
        (Message::Text(x), Message::Text(y)) => x.as_bytes() == y.as_bytes(),
        (Message::Binary(x), Message::Binary(y)) => x == y,
        _ => false,
    }
}

/// Send `messages` messages, keeping up to `in_flight` outstanding, and
/// check each echo.
async fn exchange(
    ws: &mut Conn,
    pool: &[Message],
    conn: usize,
    messages: usize,
    in_flight: usize,
    res: &mut ConnResult,
) -> Result<(), String> {
    res.rtts.reserve(messages);
    let mut outstanding: VecDeque<(usize, Instant)> = VecDeque::with_capacity(in_flight);
    let mut sent = 0;
    while sent < messages || !outstanding.is_empty() {
        while sent < messages && outstanding.len() < in_flight {
            let idx = (conn * 7 + sent) % pool.len();
            let msg = pool[idx].clone();
            res.payload += msg.len() as u64;
            if sent + 1 < messages && outstanding.len() + 1 < in_flight {
                ws.feed(msg).await.map_err(|e| format!("send: {e}"))?;
            } else {
                ws.send(msg).await.map_err(|e| format!("send: {e}"))?;
            }
            outstanding.push_back((idx, Instant::now()));
            sent += 1;
        }
        let echo = loop {
            match ws.next().await {
                Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => break m,
                Some(Ok(Message::Close(c))) => {
                    return Err(format!("server closed the connection: {c:?}"))
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(format!("receive: {e}")),
                None => return Err("connection ended".into()),
            }
        };
        let Some((idx, at)) = outstanding.pop_front() else {
            return Err("unsolicited message".into());
        };
        let rtt = at.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
        if !same(&echo, &pool[idx]) {
            return Err(format!(
                "echo #{} differs from what was sent",
                res.rtts.len()
            ));
        }
        res.rtts.push(rtt);
    }
    Ok(())
}
