//! `wsx ratio` output: the terminal table, CSV and JSON.

use std::fmt::Write as _;

use super::measure::{Memory, Row};
use super::settings::Setting;

fn opt(v: Option<f64>, prec: usize) -> String {
    v.map_or_else(|| "-".to_owned(), |x| format!("{x:.prec$}"))
}

fn kib(v: Option<Memory>, f: fn(&Memory) -> f64) -> String {
    opt(v.as_ref().map(|m| f(m) / 1024.0), 1)
}

/// The terminal table: one block per input, frontier settings marked `*`,
/// then each setting's flags and what the columns mean.
pub fn table(rows: &[Row], settings: &[Setting], contexts: usize) -> String {
    let mut s = String::new();
    let many = contexts > 1;
    let _ = write!(
        s,
        "{:<1} {:<18} {:<10} {:>6} {:>10} {:>8} {:>8}",
        "P", "input", "setting", "ratio", "wire B/msg", "comp µs", "dec µs"
    );
    if many {
        let _ = write!(
            s,
            " {:>10} {:>10}",
            format!("comp@{contexts}"),
            format!("dec@{contexts}")
        );
    }
    let _ = writeln!(s, " {:>9} {:>9}", "busy KiB", "hib KiB");
    let mut last = "";
    for r in rows {
        if !last.is_empty() && last != r.input {
            s.push('\n');
        }
        last = &r.input;
        let _ = write!(
            s,
            "{:<1} {:<18} {:<10} {:>6.2} {:>10.1} {:>8.2} {:>8.2}",
            if r.pareto { "*" } else { "" },
            r.input,
            r.setting,
            r.ratio(),
            r.wire_per_msg(),
            r.hot.compress,
            r.hot.decompress
        );
        if many {
            let _ = write!(
                s,
                " {:>10} {:>10}",
                opt(r.ctx.map(|c| c.compress), 2),
                opt(r.ctx.map(|c| c.decompress), 2)
            );
        }
        let _ = writeln!(
            s,
            " {:>9} {:>9}",
            kib(r.mem, |m| m.busy),
            kib(r.mem, |m| m.hibernated)
        );
    }
    let _ = writeln!(s, "\nsettings (wsx serve flags):");
    for st in settings {
        let _ = writeln!(s, "  {:<10} {}", st.name, st.flags());
    }
    let cpu = if many {
        format!("comp@{contexts} + dec@{contexts}")
    } else {
        "comp µs + dec µs".to_owned()
    };
    let _ = writeln!(
        s,
        "\nP * = Pareto-optimal for its input on (CPU = {cpu}, wire B/msg): no other setting is as cheap and as small with one strictly better.\n\
ratio = message bytes / compressed payload; wire B/msg = server-to-client bytes per message, frame headers included.\n\
comp/dec µs = µs per message through SendStack::encode / RecvStack::decode, one connection, messages in sequence \
(median of interleaved passes).{}\n\
busy KiB = server heap per connection after messages both ways; hib KiB = the same after hibernate() on both halves \
(the server's shared pool of idle states is not included).\n\
CPU figures move by ~10% between runs on a shared machine: settings within that of each other can swap frontier places.",
        if many {
            format!(
                "\ncomp@{contexts}/dec@{contexts} = the same with {contexts} connections interleaved, messages round-robin: \
the cache pressure of a busy server (for messages up to a few KiB typically 2-3x the one-connection cost)."
            )
        } else {
            String::new()
        }
    );
    s
}

/// The fan-out view (`--fanout N`): one message to `n` recipients. A
/// setting whose server direction resets per message
/// (`server_no_context_takeover`) is compressed once and shared
/// (`wsx::broadcast`); one with context takeover once per cohort (the
/// recipients that were sent the same messages: one here), whose members
/// hold no compressor. CPU uses the many-connection figure when measured.
pub fn fanout(rows: &[Row], settings: &[Setting], n: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nfan-out to {n} recipients, per message sent:\n{:<18} {:<10} {:>7} {:>12} {:>12} {:>12}",
        "input", "setting", "shared", "comp µs", "KiB sent", "heap MiB"
    );
    let mut last = "";
    for r in rows {
        if !last.is_empty() && last != r.input {
            s.push('\n');
        }
        last = &r.input;
        let cfg = settings
            .iter()
            .find(|st| st.name == r.setting)
            .and_then(|st| st.cfg.as_ref());
        // No compression shares the plain frame; no context shares too;
        // context takeover is compressed once per cohort.
        let shared = cfg.is_none_or(|c| c.server_no_context_takeover);
        let once = r.ctx.map_or(r.hot.compress, |c| c.compress);
        // A cohort's members hold no compressor: one busy one for all.
        let heap = r.mem.map(|m| {
            let each = if shared { m.busy } else { m.busy - m.send_busy };
            let cohort = if shared { 0.0 } else { m.send_busy };
            (each * n as f64 + cohort) / (1 << 20) as f64
        });
        let _ = writeln!(
            s,
            "{:<18} {:<10} {:>7} {:>12.1} {:>12.1} {:>12}",
            r.input,
            r.setting,
            if shared { "frame" } else { "cohort" },
            once,
            r.wire_per_msg() * n as f64 / 1024.0,
            opt(heap, 1),
        );
    }
    let _ = writeln!(
        s,
        "\nshared = how one compression serves every recipient: frame = the same frame for every recipient with the \
same settings (server_no_context_takeover, or no compression); cohort = context takeover, one compressor for every \
recipient that was sent the same messages (wsx::broadcast cohorts: everyone who joined before the first message, say; \
late joiners, members that missed a message or were sent one of their own start new cohorts).\n\
comp µs = server compression CPU for one message to all {n} (one cohort); KiB sent = wire bytes to all {n}; heap MiB \
= server heap of {n} busy connections (a cohort member holds its decompressor but no compressor: (busy - send) KiB \
x {n}, plus the cohort's one compressor)."
    );
    s
}

fn num(v: Option<f64>, prec: usize) -> String {
    v.filter(|x| x.is_finite())
        .map_or_else(String::new, |x| format!("{x:.prec$}"))
}

/// Column names of [`csv()`], in order (also the JSON fields).
pub const FIELDS: [&str; 18] = [
    "input",
    "setting",
    "pareto",
    "messages",
    "message_bytes",
    "payload_bytes",
    "wire_bytes",
    "wire_bytes_per_msg",
    "ratio",
    "compress_us",
    "decompress_us",
    "contexts",
    "compress_us_ctx",
    "decompress_us_ctx",
    "cpu_us",
    "mem_busy_bytes",
    "mem_hibernated_bytes",
    "flags",
];

/// The values of one row, as text, in [`FIELDS`] order (missing: empty).
fn values(r: &Row, contexts: usize) -> [String; 18] {
    [
        r.input.clone(),
        r.setting.to_owned(),
        r.pareto.to_string(),
        r.messages.to_string(),
        r.raw.to_string(),
        r.payload.to_string(),
        r.wire.to_string(),
        format!("{:.2}", r.wire_per_msg()),
        format!("{:.4}", r.ratio()),
        num(Some(r.hot.compress), 3),
        num(Some(r.hot.decompress), 3),
        if r.ctx.is_some() {
            contexts.to_string()
        } else {
            String::new()
        },
        num(r.ctx.map(|c| c.compress), 3),
        num(r.ctx.map(|c| c.decompress), 3),
        num(Some(r.cpu().total()), 3),
        num(r.mem.map(|m| m.busy), 0),
        num(r.mem.map(|m| m.hibernated), 0),
        r.flags.clone(),
    ]
}

/// CSV with a header line.
pub fn csv(rows: &[Row], contexts: usize) -> Result<String, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| format!("CSV output: {e}");
    w.write_record(FIELDS).map_err(fail)?;
    for r in rows {
        w.write_record(values(r, contexts)).map_err(fail)?;
    }
    let bytes = w.into_inner().map_err(|e| format!("CSV output: {e}"))?;
    String::from_utf8(bytes).map_err(|e| format!("CSV output: {e}"))
}

/// A JSON array of one object per row ([`FIELDS`], in that order; missing
/// figures null).
pub fn json(rows: &[Row], contexts: usize) -> Result<String, String> {
    const STRINGS: [&str; 3] = ["input", "setting", "flags"];
    let items: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let fields: serde_json::Map<String, serde_json::Value> = FIELDS
                .iter()
                .zip(values(r, contexts))
                .map(|(k, v)| {
                    let v = if STRINGS.contains(k) {
                        serde_json::Value::String(v)
                    } else if v.is_empty() {
                        serde_json::Value::Null
                    } else {
                        // Numbers keep the table's precision; anything
                        // that is not a JSON literal stays text.
                        serde_json::from_str(&v).unwrap_or(serde_json::Value::String(v))
                    };
                    ((*k).to_owned(), v)
                })
                .collect();
            serde_json::Value::Object(fields)
        })
        .collect();
    let mut out = serde_json::to_string_pretty(&items).map_err(|e| format!("JSON output: {e}"))?;
    out.push('\n');
    Ok(out)
}
