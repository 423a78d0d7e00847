#!/usr/bin/env python3
"""Markdown tables of a benches/broadcast.sh run.

    python3 benches/broadcast_report.py [target/broadcast]

Reads OUT/meta.json, OUT/runs.jsonl (one line per load run) and
OUT/failed.jsonl. Prints, per receiver count, the medians per server of
server CPU per delivery, wire bytes per delivery, deliveries/s and fan-out
time, and the ratios of every server to wsx-cohorts. Warm-up runs (round
<= 0) are left out. Exits 1 if any server failed or any run failed (errors,
mismatches, missing deliveries, timeout), 0 otherwise.
"""

import statistics
import sys

import report_io

OUT = report_io.out_dir("broadcast")
REF = "wsx-cohorts"
meta = report_io.meta(OUT)
runs = report_io.jsonl(OUT, "runs.jsonl")
failed_servers = report_io.failed_servers(OUT)
names = [s["name"] for s in meta["servers"]]

CONFIG = {
    "wsx-cohorts": "`wsx serve --broadcast --deflate-level 6` (= `DeflateConfig::broadcast_cohorts()`: level 6, "
                   "15-bit windows, context takeover; each message compressed once per cohort of members that "
                   "were sent the same messages)",
    "wsx-broadcast": "`wsx serve --broadcast --server-no-context-takeover --deflate-level 6` "
                     "(= `DeflateConfig::broadcast()`: level 6, no server context takeover, "
                     "each message compressed once for all members)",
    "wsx": "`wsx serve --broadcast` (default policy: level 1, 15-bit windows, context takeover, "
           "served by cohorts too)",
    "node-ws": "ws %s, loop of `client.send(data, { binary })`, `perMessageDeflate: true` "
               "(ws's defaults: level 6, memLevel 8, 15-bit windows, context takeover)" % meta.get("ws", "?"),
    "node-ws-nct": "ws %s, the same with `perMessageDeflate: { serverNoContextTakeover: true }` "
                   "(ws then sends messages under its default 1024 B threshold uncompressed)" % meta.get("ws", "?"),
    "python-websockets": "websockets %s `broadcast()`, `compression=\"deflate\"` (its default: "
                         "12-bit windows, memLevel 5, level 6, context takeover)" % meta.get("websockets", "?"),
}


def run_ok(r):
    load = r.get("load") or {}
    return (not r.get("failed") and r.get("rc") == 0 and load.get("errors") == 0
            and load.get("mismatches") == 0 and load.get("deliveries")
            and load.get("deliveries") == load.get("deliveries_expected"))


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt(x, nd=2):
    return "—" if x != x else ("%.*f" % (nd, x))


def ratio(x, ref):
    if x != x or ref != ref or ref == 0:
        return "—"
    return "%.2fx" % (x / ref)


bad = 0
print("# Broadcast benchmark (`benches/broadcast.sh`)\n")
print("%s, %s cores; load average %s at the start, %s at the end. wsx `%s` (sha256 %s), Node %s + ws %s, "
      "Python %s + websockets %s." % (
          meta["machine"], meta["cores"], meta.get("loadavg_start", "?"), meta.get("loadavg_end", "?"),
          meta["wsx_version"], meta["wsx_sha256"], meta["node"], meta["ws"], meta["python"], meta["websockets"]))
print("\nCorpus `%s` (%s). Window %s, %s%% of the receivers join half-way, %s measured rounds after %s "
      "warm-up.\n" % (meta["corpus_name"], meta["corpus"]["name"], meta["window"], meta["late_percent"],
                       meta["rounds"], meta["warmup"]))

ns = sorted({r["n"] for r in runs})
for n in ns:
    rows = {}
    for name in names:
        rs = [r for r in runs if r["server"] == name and r["n"] == n and r["round"] >= 1]
        ok = [r for r in rs if run_ok(r)]
        bad += len(rs) - len(ok)
        loads = [r["load"] for r in ok]
        rows[name] = {
            "runs": len(rs), "ok": len(ok),
            "cpu": med([l["cpu_us_per_delivery"] for l in loads]),
            "cpu_ss": med([l["cpu_us_per_delivery_schedstat"] for l in loads]),
            "cpu_all": sorted(l["cpu_us_per_delivery"] for l in loads),
            "wire": med([l["wire_per_delivery"] for l in loads]),
            "payload": med([l["payload_per_delivery"] for l in loads]),
            "comp": med([l["compressed_share"] for l in loads]),
            "dps": med([l["deliveries_per_s"] for l in loads]),
            "p50": med([l["fanout_p50_ms"] for l in loads]),
            "p99": med([l["fanout_p99_ms"] for l in loads]),
            "deliv": med([l["deliveries"] for l in loads]),
            "msgs": med([l["messages"] for l in loads]),
            "late_ok": sum(l["late_at_join_point"] == l["late"] for l in loads),
            "ext": loads[0]["extensions"] if loads else "",
            "rss": med([l["rss_end_kib"] for l in loads]),
            "corpus": loads[0]["corpus"] if loads else None,
        }
    ref = rows.get(REF, {})
    anyrow = next((r for r in rows.values() if r["ok"]), None)
    print("## N = %d receivers\n" % n)
    if anyrow:
        c = anyrow["corpus"]
        print("%d messages per run (%d distinct, %d–%d B, mean %.0f B, median %d B, %d binary), %d deliveries "
              "per run (every member, the sender included, verified).\n" % (
                  anyrow["msgs"], c["distinct"], c["min"], c["max"], c["mean"], c["p50"], c["binary"],
                  anyrow["deliv"]))
    print("| server | server CPU µs / delivery | (schedstat) | wire B / delivery | compressed | deliveries/s | "
          "fan-out p50 / p99 ms | CPU vs %s | bytes vs %s | ok runs |" % (REF, REF))
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in names:
        r = rows[name]
        label = "**%s**" % name if name == REF else name
        if name in failed_servers:
            label += " (FAILED)"
        print("| %s | %s | %s | %s | %.0f%% | %s | %s / %s | %s | %s | %d/%d |" % (
            label, fmt(r["cpu"]), fmt(r["cpu_ss"]), fmt(r["wire"], 1), 100 * r["comp"] if r["comp"] == r["comp"] else 0,
            fmt(r["dps"], 0), fmt(r["p50"]), fmt(r["p99"]),
            ratio(r["cpu"], ref.get("cpu", float("nan"))), ratio(r["wire"], ref.get("wire", float("nan"))),
            r["ok"], r["runs"]))
    if anyrow:
        print("\nPayload %.1f B per delivery. Per-run CPU µs/delivery (ticks): %s." % (
            anyrow["payload"], "; ".join("%s %s" % (k, ", ".join("%.2f" % x for x in v["cpu_all"]))
                                         for k, v in rows.items())))
        print("\nLate joiners: in %d of %d good runs every late joiner's first message was the first one sent "
              "after it joined (the join point, M/2); otherwise a later one (still checked: a contiguous suffix)." % (
                  sum(v["late_ok"] for v in rows.values()), sum(v["ok"] for v in rows.values())))
    print("\nNegotiated (the servers' answers to `permessage-deflate; client_max_window_bits`):\n")
    for name in names:
        print("- %s: `%s`" % (name, rows[name]["ext"]))
    print()

print("## Servers\n")
for name in names:
    print("- **%s**: %s" % (name, CONFIG.get(name, next(s["cmd"] for s in meta["servers"] if s["name"] == name))))
if failed_servers:
    print("\n## Failed servers\n")
    for k, v in failed_servers.items():
        print("- %s: %s" % (k, v))
if bad:
    print("\n**%d run(s) failed** (errors, mismatches, missing deliveries or timeout): see runs.jsonl." % bad)
sys.exit(1 if bad or failed_servers else 0)
