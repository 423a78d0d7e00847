#!/usr/bin/env python3
"""Markdown tables of a benches/side-by-side.sh run.

    python3 benches/side_by_side_report.py [target/side-by-side]

Reads OUT/meta.json, OUT/runs.jsonl (one line per throughput load run),
OUT/memory.jsonl (one line per memory run) and OUT/failed.jsonl (servers
that failed to start or died). Prints the medians per server of server CPU
per message, wire bytes per message each way and messages/s, the ratios of
every server to its wsx reference, and the memory per connection. Exits 1
if any server failed or any run failed (errors, mismatches, timeout, fewer
echoes than sent), 0 otherwise.
"""

import statistics
import sys

import report_io

OUT = report_io.out_dir("side-by-side")
meta = report_io.meta(OUT)
runs = report_io.jsonl(OUT, "runs.jsonl")
mem = report_io.jsonl(OUT, "memory.jsonl")
failed_servers = report_io.failed_servers(OUT)
servers = meta["servers"]
names = [s["name"] for s in servers]
ref = {s["name"]: s["ref"] for s in servers}
mode = {s["name"]: s["mode"] for s in servers}
expected_msgs = meta["conns"] * meta["msgs"]

# How each server is configured (what the code in benches/peers sets).
CONFIG = {
    "wsx": "`wsx serve` defaults",
    "wsx-plain": "`wsx serve` defaults; the client offers no deflate",
    "wsx-base": "WSX_BASE `serve` defaults",
    "wsx-base-plain": "WSX_BASE `serve` defaults; the client offers no deflate",
    "tokio-tungstenite": "tokio-tungstenite %s accept_async defaults, no deflate (tungstenite has none); "
                         "the client offers no deflate" % meta.get("tokio-tungstenite", "?"),
    "node-ws": "ws %s `perMessageDeflate: { threshold: 0 }` (else defaults: zlib level 6, memLevel 8, "
               "15-bit windows, context takeover)" % meta.get("ws", "?"),
    "python-websockets": "websockets %s `compression=\"deflate\"` (its default: 12-bit windows both ways, "
                         "memLevel 5, zlib default level 6, context takeover)" % meta.get("websockets", "?"),
    "sockudo-ws": "sockudo-ws %s `Compression::Dedicated` policy via `negotiate_server_deflate` "
                  "(15-bit windows, context takeover, level 6, < 16 B sent plain; flate2 on zlib-rs)" % meta.get("sockudo-ws", "?"),
    "yawc": "yawc %s `DeflateOptions::default()` (level 6, context takeover, threshold 0, no window "
            "preference: answers a bare client_max_window_bits with 9), `with_utf8()`, features zlib+simd "
            "(flate2 on zlib-rs)" % meta.get("yawc", "?"),
    "ratchet": "ratchet_rs %s + ratchet_deflate %s `DeflateExtProvider::default()` (level 1 = "
               "Compression::fast(), 15-bit windows, context takeover; flate2 on C zlib, the system libz)"
               % (meta.get("ratchet_rs", "?"), meta.get("ratchet_deflate", "?")),
    "wtx": "wtx %s `Flate2::default()` (12-bit windows both ways, level 5, no context takeover either "
           "way; flate2 on zlib-rs)" % meta.get("wtx", "?"),
}
for s in servers:
    if s["name"].startswith("wsx-") and s["name"] not in CONFIG:
        CONFIG[s["name"]] = "`wsx serve %s`" % s["cmd"].split("--listen 127.0.0.1:0", 1)[-1].strip()


def run_ok(r):
    load = r.get("load") or {}
    return (not r.get("failed") and r.get("rc") == 0 and load.get("errors") == 0
            and load.get("mismatches") == 0 and load.get("msgs") == expected_msgs)


def per_run(r):
    load = r["load"]
    m = load["msgs"]
    return {
        "cpu_us": r["cpu_ticks"] / r["clk_tck"] * 1e6 / m,
        "cpu_ns_us": r["cpu_ns_threads"] / 1e3 / m,
        "s2c": load["wire_s2c_per_msg"],
        "c2s": load["wire_c2s_per_msg"],
        "payload": load["payload_per_msg"],
        "rate": load["msgs_per_s"] or 0,
    }


med = {}
nfail = {}
exts = {}
for n in names:
    rs = [r for r in runs if r["server"] == n and r["round"] > 0]  # round 0: warm-up
    ok = [per_run(r) for r in rs if run_ok(r)]
    nfail[n] = len(rs) - len(ok)
    if ok:
        med[n] = {k: statistics.median(x[k] for x in ok) for k in ok[0]}
        med[n]["runs"] = len(ok)
        med[n]["cpu_min"] = min(x["cpu_us"] for x in ok)
        med[n]["cpu_max"] = max(x["cpu_us"] for x in ok)
    seen = [r["load"].get("extensions") for r in rs if r.get("load") and r["load"].get("extensions") is not None]
    exts[n] = seen[0] if seen else None


def f(x, d=1):
    return "-" if x is None else "%.*f" % (d, x)


def ext_text(e):
    return "?" if e is None else ("`%s`" % e if e else "(none)")


print("## Side-by-side: %s" % meta["date"])
print()
print("machine: %s, %s cores (shared); server CPU: /proc/PID/stat utime+stime (CLK_TCK %s) around each "
      "load run, so it includes the run's %s handshakes and closes; schedstat: the same from "
      "/proc/PID/task/*/schedstat (ns, live threads)"
      % (meta["machine"], meta["cores"], meta["clk_tck"], meta["conns"]))
print("load: Node %s ws %s client (benches/peers/load_ws.js), %s connections x %s round trips per run, "
      "%s rounds interleaved after %s warm-up round; corpus: %s JSON messages %s-%s B (median %s, mean %.0f, %.0f%% <= 1500 B, "
      "%s of them sent as binary)" % (
          meta["node"], meta["ws"], meta["conns"], meta["msgs"], meta["rounds"], meta.get("warmup", 0),
          meta["corpus"]["entries"],
          meta["corpus"]["min"], meta["corpus"]["max"], meta["corpus"]["p50"], meta["corpus"]["mean"],
          100 * meta["corpus"]["share_le_1500"], meta["corpus"]["binary"]))
print("client offer (deflate runs): Node ws defaults, `permessage-deflate; client_max_window_bits`; "
      "ws's 1024 B threshold applies when client_no_context_takeover is negotiated (then client->server "
      "messages under 1 KiB go uncompressed), else the client compresses every message")
print("wsx: %s (%s, sha256 %s)%s" % (meta["wsx_version"], meta["wsx"], meta["wsx_sha256"],
      "; wsx-base: %s (%s, sha256 %s)" % (meta["wsx_base_version"], meta["wsx_base"], meta["wsx_base_sha256"])
      if meta.get("wsx_base") else ""))
print()
print("### Throughput runs (medians over the successful runs)")
print()
print("| server | client offers | CPU µs/msg | (min-max) | CPU µs/msg (schedstat) | wire B/msg server→client "
      "| wire B/msg client→server | msg/s (info) | failed runs | negotiated Sec-WebSocket-Extensions |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
for n in names:
    m = med.get(n)
    status = ("FAILED: " + failed_servers[n].splitlines()[0][:80]) if n in failed_servers else None
    if m is None:
        print("| %s | %s | FAILED | - | - | - | - | - | %d | %s |" % (
            n, mode[n], nfail[n], status or ext_text(exts[n])))
        continue
    print("| %s | %s | %s | %s-%s | %s | %s | %s | %s | %d | %s |" % (
        n if not status else n + " (FAILED)", "deflate" if mode[n] == "deflate" else "no deflate",
        f(m["cpu_us"], 2), f(m["cpu_min"]), f(m["cpu_max"]), f(m["cpu_ns_us"], 2), f(m["s2c"]), f(m["c2s"]), f(m["rate"], 0), nfail[n],
        ext_text(exts[n])))
pay = [med[n]["payload"] for n in names if n in med]
if pay:
    print()
    print("payload: %.1f B/msg each way (the wire figures include the 2-8 B frame headers and the 4 B client masks)"
          % pay[0])
print()
print("### Ratios to wsx (server / wsx: > 1 means the server costs more than wsx)")
print()
print("| server | against | CPU/msg | wire server→client | wire client→server |")
print("|---|---|---:|---:|---:|")
for n in names:
    r = ref[n]
    if n == r:
        continue
    a, b = med.get(n), med.get(r)
    if not a or not b:
        print("| %s | %s | - | - | - |" % (n, r))
        continue
    def ratio(k):
        # A run too short for one clock tick has 0 µs: no ratio.
        return "%.2fx" % (a[k] / b[k]) if b[k] else "-"
    print("| %s | %s | %s | %s | %s |" % (n, r, ratio("cpu_us"), ratio("s2c"), ratio("c2s")))

print()
print("### Memory: %s connections, K round trips each, then %s s idle (fresh server per row)"
      % (meta["mem_conns"], meta["mem_idle"]))
print()
print("| server | K | RSS before | RSS just after traffic | RSS idle | KiB/conn just after traffic "
      "| KiB/conn idle | negotiated | status |")
print("|---|---:|---:|---:|---:|---:|---:|---|---|")
mem_fail = 0
for k in sorted({r["k"] for r in mem}):
    for n in names:
        for r in [r for r in mem if r["server"] == n and r["k"] == k]:
            load = r.get("load") or {}
            ok = (not r.get("failed") and r.get("held") == 1 and r.get("rc") == 0 and load.get("errors") == 0
                  and load.get("mismatches") == 0)
            if not ok:
                mem_fail += 1
            if r.get("failed") or not r.get("held"):
                print("| %s | %s | - | - | - | - | - | %s | FAILED (%s) |" % (
                    n, k, ext_text(load.get("extensions")),
                    r.get("failed") or "errors %s, %s" % (load.get("errors"), load.get("error_samples"))))
                continue
            c = r["conns"]
            print("| %s | %d | %d KiB | %d KiB | %d KiB | %.1f | %.1f | %s | %s |" % (
                n, k, r["rss_before_kib"], r["rss_after_traffic_kib"], r["rss_idle_kib"],
                (r["rss_after_traffic_kib"] - r["rss_before_kib"]) / c, (r["rss_idle_kib"] - r["rss_before_kib"]) / c,
                ext_text(load.get("extensions")),
                "ok" if ok else "FAILED (errors %s, mismatches %s)" % (load.get("errors"), load.get("mismatches"))))

print()
print("### Server configurations")
print()
print("| server | configuration |")
print("|---|---|")
for n in names:
    print("| %s | %s |" % (n, CONFIG.get(n, "?")))

bad = sorted(set(failed_servers) | {n for n in names if nfail[n]})
if bad or mem_fail:
    print()
    print("### FAILURES")
    print()
    for n in bad:
        why = []
        if n in failed_servers:
            why.append(" ".join(failed_servers[n].split()))
        if nfail[n]:
            samples = sorted({e for r in runs if r["server"] == n and r["round"] > 0 and not run_ok(r)
                              for e in (r.get("load") or {}).get("error_samples") or [r.get("failed") or "?"]})
            why.append("%d failed throughput runs (%s)" % (nfail[n], "; ".join(samples[:3])))
        print("- %s: %s" % (n, "; ".join(why)))
    if mem_fail:
        print("- %d failed memory runs (see the table)" % mem_fail)
    sys.exit(1)
