//! `wsx ratio`: the trade-off frontier of permessage-deflate settings on
//! your own payloads (or the built-in corpora), to choose a policy.
//!
//! Each input is a sequence of messages sent server to client, in order,
//! through negotiated permessage-deflate pairs (the ws-ext-core stacks a
//! wsx connection runs). A file is one message (or `--split` pieces); a
//! directory is each file under it. With no input the built-in corpora
//! (chat-json, logs, html, binary) are used at each `--sizes` size
//! (`mixed`: 200 B–4 KiB).
//!
//! Per (input, setting): compression ratio; wire bytes per message, frame
//! headers included; compress and decompress µs per message through
//! `SendStack::encode` / `RecvStack::decode`, one connection and then
//! `--contexts` connections interleaved (medians of interleaved passes,
//! [`measure`]); heap per connection busy and hibernated. Settings that
//! are Pareto-optimal on (CPU, wire bytes) are marked ([`frontier`]).
//! Output: a table, `--csv`, `--json` ([`report`]); `--svg` a chart
//! ([`chart`]).

mod chart;
mod clock;
mod frontier;
mod heap;
mod input;
mod measure;
mod report;
mod settings;

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use input::Size;

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
}

/// Run the report.
pub async fn run(args: RatioArgs) -> Result<(), String> {
    // Synchronous work on purpose: the memory figures read the main arena,
    // so everything is allocated on this (the main) thread.
    let inputs = input::load(&args.inputs, &args.sizes, args.total, args.split)?;
    let settings = settings::select(&args.settings)?;
    for i in &inputs {
        let bytes: usize = i.messages.iter().map(Vec::len).sum();
        if bytes < measure::SMALL_INPUT {
            eprintln!(
                "note: {} holds only {bytes} bytes of messages; they repeat within a deflate \
window while timing, which flatters context takeover (give at least {} KiB)",
                i.name,
                measure::SMALL_INPUT >> 10
            );
        }
    }
    let opts = measure::Options {
        time: Duration::from_millis(args.time),
        contexts: args.contexts as usize,
        conns: args.conns as usize,
    };
    let bar = ProgressBar::new(inputs.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} inputs {elapsed} {msg}")
            .map_err(|e| e.to_string())?,
    );
    let mut rows = Vec::with_capacity(inputs.len() * settings.len());
    for input in &inputs {
        let mut mine = measure::input(input, &settings, opts, &|m| bar.set_message(m.to_owned()))?;
        let points: Vec<(f64, f64)> = mine
            .iter()
            .map(|r| (r.cpu().total(), r.wire_per_msg()))
            .collect();
        for (r, p) in mine.iter_mut().zip(frontier::pareto(&points)) {
            r.pareto = p;
        }
        rows.extend(mine);
        bar.inc(1);
    }
    bar.finish_and_clear();

    let out = if args.csv {
        report::csv(&rows, opts.contexts)
    } else if args.json {
        report::json(&rows, opts.contexts)
    } else {
        report::table(&rows, &settings, opts.contexts)
    };
    std::io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .map_err(|e| e.to_string())?;
    if let Some(path) = &args.svg {
        chart::draw(path, &rows, opts.contexts)?;
        eprintln!("chart written to {}", path.display());
    }
    Ok(())
}
