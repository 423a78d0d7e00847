//! Command-line arguments (clap derive). This is the `wsx` contract.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use ws_deflate::backend::{Compressor, Tune};

use crate::ratio::input::Size;

/// The reference WebSocket server and client of the wsx crates
/// (RFC 6455 with permessage-deflate and pluggable extensions).
///
/// Logs go to stderr; set RUST_LOG (for example RUST_LOG=wsx=debug) to
/// choose what is logged.
#[derive(Debug, Parser)]
#[command(name = "wsx", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Echo server. Prints `listening on ws://IP:PORT` once bound. Every
    /// WebSocket path echoes each message back (text as text, binary as
    /// binary; with --broadcast, sends it to every connection on the path);
    /// a plain `GET /` serves a demo page; SIGINT/SIGTERM close open
    /// connections with 1001 and exit 0.
    Serve(ServeArgs),
    /// Connect, print the negotiated protocol and extensions to stderr, send
    /// each stdin line as a text message, print each received message on
    /// its own stdout line; on stdin EOF close cleanly and exit 0.
    Client(ClientArgs),
    /// Run every case of an Autobahn fuzzingserver as an echo client, then
    /// ask it to update its reports.
    AutobahnClient(AutobahnArgs),
    /// Offer each extension and parameter combination in turn and report
    /// what the server accepts.
    Probe(ProbeArgs),
    /// Compare permessage-deflate settings on FILES_OR_DIRS (default: the
    /// built-in corpora): ratio, wire bytes and compress/decompress µs per
    /// message, memory per connection busy and hibernated; Pareto-optimal
    /// settings (CPU vs bytes) marked. A table, --csv, --json, --svg FILE.
    Ratio(RatioArgs),
    /// Drive any echo server: messages/s, p50/p99 round trip, bytes on the
    /// wire, compression ratio and connection errors.
    Load(LoadArgs),
}

/// permessage-deflate policy (on by default).
#[derive(Debug, Clone, Args)]
pub struct DeflateArgs {
    /// Do not offer or accept permessage-deflate.
    #[arg(long)]
    pub no_deflate: bool,
    /// Compression level 0-9 (0 stores, 1 fastest, 9 smallest; the levels
    /// of the compressor chosen by --compressor).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=9))]
    pub deflate_level: Option<u32>,
    /// Server compresses with at most N window bits (8-15).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(8..=15))]
    pub server_max_window_bits: Option<u8>,
    /// Client compresses with at most N window bits (8-15).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(8..=15))]
    pub client_max_window_bits: Option<u8>,
    /// The server resets its compression context after each message.
    #[arg(long)]
    pub server_no_context_takeover: bool,
    /// The client resets its compression context after each message.
    #[arg(long)]
    pub client_no_context_takeover: bool,
    /// Messages shorter than this are sent uncompressed.
    #[arg(long, value_name = "BYTES")]
    pub compress_threshold: Option<usize>,
    /// zlib memLevel 1-9 of the compressor (its literal buffers: lower
    /// saves memory while busy, at some cost in ratio).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=9))]
    pub mem_level: Option<u8>,
    /// The DEFLATE compressor: `native` (the default, made for messages: on
    /// chat JSON ~20% fewer bytes than zlib's level 1 for ~10% more CPU) or
    /// `zlib` (the zlib-family backend compiled in; levels as zlib's).
    #[arg(long, value_name = "NAME", value_parser = parse_compressor)]
    pub compressor: Option<Compressor>,
    /// Replace the level's match search: zlib's deflateTune knobs
    /// GOOD,LAZY,NICE,CHAIN (a match of GOOD cuts the next search to a
    /// quarter, one of LAZY is taken without trying the next position, one
    /// of NICE ends the search, CHAIN candidates at most per position).
    /// Native level 1 is 16,32,32,2, level 2 16,32,128,8.
    #[arg(long, value_name = "G,L,N,C", value_parser = parse_tune)]
    pub deflate_tune: Option<Tune>,
    /// Idle compressors and decompressors kept for reuse, shared by all
    /// connections (state of hibernated or no-context-takeover
    /// connections; 0: none).
    #[arg(long, value_name = "N")]
    pub deflate_pool: Option<usize>,
    /// Use the legacy per-frame `deflate-frame` extension as well (server)
    /// or instead of permessage-deflate (client). Not with --mux.
    #[arg(long, conflicts_with = "mux")]
    pub deflate_frame: bool,
}

/// `serve --help` for `--deflate-frame`.
const SERVE_DEFLATE_FRAME_HELP: &str = "\
Also accept the legacy per-frame extension: `deflate-frame` and its WebKit \
name `x-webkit-deflate-frame` (old Safari/iOS), answered under the name \
offered. permessage-deflate stays preferred: deflate-frame is accepted only \
from a client that offers no permessage-deflate (with --no-deflate too). An \
offer's max_window_bits / no_context_takeover bind our compressor (with \
--server-max-window-bits / --server-no-context-takeover); \
--client-max-window-bits / --client-no-context-takeover go in the answer. \
Not with --mux.";

/// `client --help` for `--deflate-frame`.
const CLIENT_DEFLATE_FRAME_HELP: &str = "\
Offer the legacy per-frame extension `deflate-frame` instead of \
permessage-deflate (stderr reports it as `extensions: deflate-frame` when \
accepted). --server-max-window-bits / --server-no-context-takeover go in the \
offer as max_window_bits / no_context_takeover; the answer's parameters and \
--client-max-window-bits / --client-no-context-takeover bind our compressor. \
Not with --mux.";

/// Options both roles share.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    #[command(flatten)]
    pub deflate: DeflateArgs,
    /// Use the multiplexing extension.
    #[arg(long)]
    pub mux: bool,
    #[command(flatten)]
    pub mux_args: MuxArgs,
    /// Largest message accepted; larger closes the connection with 1009.
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    pub max_message_size: usize,
}

#[derive(Debug, Args)]
#[command(mut_arg("deflate_frame", |a| a.help(SERVE_DEFLATE_FRAME_HELP)))]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9998")]
    pub listen: String,
    /// Accept this subprotocol (repeatable, in the server's order of
    /// preference): the server answers with its most preferred protocol
    /// among those the client offered (exact, case-sensitive match) and
    /// omits Sec-WebSocket-Protocol when none match (the connection is
    /// still accepted; browsers, per WHATWG, then fail a connection that
    /// offered protocols). P must be an RFC 7230 token.
    #[arg(long = "protocol", value_name = "P", value_parser = parse_protocol)]
    pub protocols: Vec<String>,
    #[command(flatten)]
    pub common: CommonArgs,
    /// PEM certificate chain: serve wss:// (with --tls-key).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// PEM private key (with --tls-cert).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Seconds allowed for the opening handshake.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub handshake_timeout: u64,
    /// Largest request head accepted (larger gets 431).
    #[arg(long, value_name = "BYTES", default_value_t = 16 << 10)]
    pub max_header_bytes: usize,
    /// Most simultaneous connections; more get HTTP 503 (0: no limit).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_connections: usize,
    /// Ping a connection silent for SECS, drop it after 2*SECS (0: off).
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub idle_timeout: u64,
    /// Seconds to wait for the peer's side of the closing handshake.
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    pub close_timeout: u64,
    /// After SECS without a message either way, a compressed connection
    /// packs its LZ77 windows and gives its compressor and decompressor
    /// back to a shared pool (a few KiB instead of ~150 KiB held; the next
    /// message restores them); with --broadcast, so do the cohort
    /// compressors of a room where nothing was sent for SECS. Decimals
    /// allowed; 0: never.
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    pub hibernate_after: f64,
    /// Threads that run connections, each a single-threaded runtime that
    /// keeps its connections for their whole life (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: Option<u16>,
    /// Broadcast instead of echo: every text or binary message received on
    /// a path is sent, unchanged, to every connection open on that same
    /// path, the sender included. Each message is compressed once per
    /// distinct encoding (with --server-no-context-takeover, once for all
    /// compressed connections; with context takeover, once per
    /// connection). Not with --mux.
    #[arg(long, conflicts_with = "mux")]
    pub broadcast: bool,
    /// With --broadcast: messages a connection may have waiting to be
    /// written before --broadcast-overflow applies to it.
    #[arg(long, value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub broadcast_queue: u32,
    /// With --broadcast: what a connection's full queue does (it is not
    /// reading fast enough): `drop-oldest` (it misses its oldest waiting
    /// message), `close-1008` or `close-1013` (it is closed with that code
    /// and leaves the room).
    #[arg(long, value_name = "POLICY", default_value = "drop-oldest",
          value_parser = ["drop-oldest", "close-1008", "close-1013"])]
    pub broadcast_overflow: String,
    /// With --broadcast: the most cohorts per room and setting. Connections
    /// with context takeover that were sent the same messages share one
    /// compressor (a cohort), run once per message; late joiners, and
    /// connections that missed a message, start new cohorts, and beyond N
    /// the smallest are merged (their members start afresh). 0: no
    /// cohorts (each such connection compresses every message itself).
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(0..=1024))]
    pub broadcast_cohorts: u32,
}

#[derive(Debug, Args)]
#[command(mut_arg("deflate_frame", |a| a.help(CLIENT_DEFLATE_FRAME_HELP)))]
pub struct ClientArgs {
    /// ws:// URL to connect to.
    pub url: String,
    /// Offer this subprotocol (repeatable, in preference order).
    #[arg(long = "protocol", value_name = "P")]
    pub protocols: Vec<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct AutobahnArgs {
    /// The fuzzingserver's URL.
    #[arg(long, default_value = "ws://127.0.0.1:9001")]
    pub url: String,
    /// Agent name the reports are filed under.
    #[arg(long, default_value = "wsx")]
    pub agent: String,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `wsx probe`: one handshake per offer, each on a new connection.
#[derive(Debug, Args)]
#[command(after_help = "\
Output: a table (offer, HTTP status, the Sec-WebSocket-Extensions answered or \
(none)), or with --json one JSON array with an object per offer: \
{\"offer\": the Sec-WebSocket-Extensions sent (\"\": none sent), \"status\": \
the HTTP status (null without an answer), \"accepted\": the \
Sec-WebSocket-Extensions answered (null: none), and \"error\" when the \
attempt failed}.

Exit status: 0 when at least one handshake got an HTTP answer. A TLS \
handshake failure (untrusted certificate, wrong host name) stops the probe \
with an error and exit status 1.")]
pub struct ProbeArgs {
    /// ws:// or wss:// URL of the server to probe.
    pub url: String,
    /// Print a JSON array of {offer, status, accepted[, error]} instead of
    /// the table.
    #[arg(long)]
    pub json: bool,
    /// wss://: also trust the CA certificates in this PEM file (a private
    /// CA, or a self-signed server certificate); the Mozilla roots of
    /// webpki-roots are always trusted.
    #[arg(long, value_name = "PEM", visible_alias = "ca")]
    pub tls_ca: Option<std::path::PathBuf>,
}

/// A `--protocol` value: an RFC 7230 token (RFC 6455 §4.1), else a clear
/// error at startup.
pub fn parse_protocol(s: &str) -> Result<String, String> {
    if ws_ext_core::header::is_token(s) {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "{s:?} is not a valid subprotocol: it must be an RFC 7230 token (one or more of \
             the letters, digits and !#$%&'*+-.^_`|~; no spaces, commas or quotes)"
        ))
    }
}

/// `--deflate-tune G,L,N,C`.
fn parse_tune(s: &str) -> Result<Tune, String> {
    let v: Vec<u16> = s
        .split(',')
        .map(|x| x.trim().parse::<u16>())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{s:?}: {e}"))?;
    let [good, lazy, nice, chain] = v[..] else {
        return Err(format!("{s:?}: expected four numbers GOOD,LAZY,NICE,CHAIN"));
    };
    let t = Tune {
        good,
        lazy,
        nice,
        chain,
    };
    if t.is_valid() {
        Ok(t)
    } else {
        Err(format!("{s:?}: out of range ({})", Tune::RANGES))
    }
}

/// `--compressor`: `native` or `zlib`.
pub fn parse_compressor(s: &str) -> Result<Compressor, String> {
    Compressor::parse(s).ok_or_else(|| format!("{s:?}: expected `native` or `zlib`"))
}

/// `wsx load` options.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// ws:// URL of the echo server.
    #[arg(long)]
    pub url: String,
    /// Connections opened at once.
    #[arg(long, short = 'c', default_value_t = 10)]
    pub connections: usize,
    /// Messages each connection sends (and expects echoed).
    #[arg(long, short = 'm', default_value_t = 1000)]
    pub messages: usize,
    /// Built-in corpus: chat-json, logs, html or binary (sent as binary).
    #[arg(long, default_value = "chat-json")]
    pub corpus: String,
    /// Message size in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 1024)]
    pub size: usize,
    /// Messages outstanding per connection (1: strict request/response).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub in_flight: usize,
    /// Stop the whole run after this many seconds, finished or not.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub timeout: u64,
    /// Keep the connections open and idle this many seconds after the
    /// messages, before closing them.
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub hold: u64,
    /// Print one JSON object instead of the text report.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Options of the multiplexing extension (with `--mux`).
#[derive(Debug, Clone, Args)]
pub struct MuxArgs {
    /// With --mux: the extension token. Client default: offer
    /// mux_DO_NOT_USE (mod_pywebsocket 0.7.9) then mux (the draft) and use
    /// the one the server accepts. Server default: mux.
    #[arg(long, value_name = "TOKEN")]
    pub mux_token: Option<String>,
    /// Client with --mux: also open a logical channel to PATH (repeatable).
    /// Every stdin line is sent on every channel; what an extra channel
    /// receives is printed as "[ID] message".
    #[arg(long = "mux-path", value_name = "PATH")]
    pub mux_paths: Vec<String>,
    /// Client with --mux: also open N more logical channels to the URL's
    /// path (like --mux-path).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub mux_channels: usize,
    /// Client with --mux: the quota offered for channel 1 (the `quota`
    /// parameter, which mod_pywebsocket needs).
    #[arg(long, value_name = "BYTES", default_value_t = 65536)]
    pub mux_quota: u32,
}

/// `wsx ratio` options.
#[derive(Debug, Args)]
pub struct RatioArgs {
    /// Files or directories of payloads (default: the built-in corpora).
    #[arg(value_name = "FILES_OR_DIRS")]
    pub inputs: Vec<PathBuf>,
    /// Built-in corpora: message sizes in bytes, or `mixed` (200 B to
    /// 4 KiB, short messages more common than long, like chat traffic).
    /// Comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "mixed,256,4096,65536")]
    pub sizes: Vec<Size>,
    /// Built-in corpora: bytes of messages per input.
    #[arg(long, value_name = "BYTES", default_value_t = 512 << 10)]
    pub total: usize,
    /// Split each file into messages of this many bytes.
    #[arg(long, value_name = "BYTES")]
    pub split: Option<usize>,
    /// Only these settings, by name (comma-separated; default: all, see
    /// the table's footer for names and flags).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub settings: Vec<String>,
    /// Also measure a setting of your own: NAME=FLAGS, FLAGS being `wsx
    /// serve` permessage-deflate flags, e.g. `mine=--deflate-level 3
    /// --server-max-window-bits 13 --client-max-window-bits 13
    /// --compress-threshold 64`. Repeatable; added to the settings chosen
    /// (all of them without --settings).
    #[arg(long = "setting", value_name = "NAME=FLAGS")]
    pub custom: Vec<String>,
    /// Print CSV instead of the table.
    #[arg(long, conflicts_with = "json")]
    pub csv: bool,
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also draw an SVG chart to this file: CPU µs/msg against wire
    /// bytes/msg per input, the Pareto frontier joined.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Most time spent timing each CPU figure (per input, setting and
    /// mode), in milliseconds, over 7 passes interleaved across settings;
    /// timed by this thread's CPU time on Linux.
    #[arg(long, value_name = "MS", default_value_t = 60)]
    pub time: u64,
    /// Also time N connections interleaved (independent negotiated pairs,
    /// messages round-robin across them): the cache pressure of a real
    /// server, where the per-message cost of messages up to a few KiB is
    /// typically 2-3x that of one hot connection. The Pareto frontier uses
    /// these figures. 1: only the one-connection figures. Every setting's
    /// N connections stay open during the passes (about 0.5 MiB each).
    #[arg(long, value_name = "N", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub contexts: u32,
    /// Server connections opened for the memory figures (one setting at a
    /// time, about 0.5 MiB each).
    #[arg(long, value_name = "N", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub conns: u32,
    /// Also print the fan-out view (table only): one message to N
    /// recipients (`wsx serve --broadcast`), per setting: server compress
    /// CPU per message (paid once: with --server-no-context-takeover one
    /// frame serves everyone; with context takeover one compressor serves
    /// each cohort of recipients that were sent the same messages), bytes
    /// sent and server heap for the N connections.
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u32).range(2..=1_000_000))]
    pub fanout: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_must_be_a_token() {
        for ok in ["chat", "chat.v2", "a-b_c~1", "!#$%&'*+-.^_`|~"] {
            assert_eq!(parse_protocol(ok).as_deref(), Ok(ok));
        }
        for bad in ["", "a b", "a,b", "\"q\"", "a;b", "é", "a/b", "x\t"] {
            let err = parse_protocol(bad).unwrap_err();
            assert!(err.contains("RFC 7230 token"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn serve_takes_protocols_in_order() {
        let cli = Cli::try_parse_from(["wsx", "serve", "--protocol", "b", "--protocol", "a"]);
        match cli.map(|c| c.command) {
            Ok(Command::Serve(s)) => assert_eq!(s.protocols, ["b", "a"]),
            other => panic!("{other:?}"),
        }
        let err = Cli::try_parse_from(["wsx", "serve", "--protocol", "a b"]).unwrap_err();
        assert!(err.to_string().contains("not a valid subprotocol"), "{err}");
    }
}
