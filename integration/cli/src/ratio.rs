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
#[allow(unsafe_code)]
mod clock;
mod frontier;
#[allow(unsafe_code)]
mod heap;
pub(crate) mod input;
mod measure;
mod report;
mod settings;

use std::io::Write as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::args::RatioArgs;

/// Run the report.
pub async fn run(args: RatioArgs) -> Result<(), String> {
    // Synchronous work on purpose: the memory figures read the main arena,
    // so everything is allocated on this (the main) thread.
    let inputs = input::load(&args.inputs, &args.sizes, args.total, args.split)?;
    let mut settings = settings::select(&args.settings)?;
    for spec in &args.custom {
        let custom = settings::custom(spec)?;
        if settings.iter().any(|s| s.name == custom.name) {
            return Err(format!(
                "--setting {spec:?}: the name {:?} is taken",
                custom.name
            ));
        }
        settings.push(custom);
    }
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
        report::csv(&rows, opts.contexts)?
    } else if args.json {
        report::json(&rows, opts.contexts)?
    } else {
        let mut t = report::table(&rows, &settings, opts.contexts);
        if let Some(n) = args.fanout {
            t.push_str(&report::fanout(&rows, &settings, n as usize));
        }
        t
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
