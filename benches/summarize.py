#!/usr/bin/env python3
"""Summarise the criterion results of `cargo bench -p benches` as Markdown
tables: throughput of every benchmark, the pipeline overhead over the raw
backend, and wsx's frame codec against tungstenite's.

    python3 benches/summarize.py [target/criterion]

Reads each benchmark's `new/estimates.json` (median of the samples) and
`new/benchmark.json` (throughput in bytes per iteration).
"""

import json
import os
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "target", "criterion")

results = {}  # full id -> (MiB/s, median ns)
for dirpath, dirnames, filenames in os.walk(root):
    if os.path.basename(dirpath) != "new" or "benchmark.json" not in filenames:
        continue
    with open(os.path.join(dirpath, "benchmark.json")) as f:
        bench = json.load(f)
    with open(os.path.join(dirpath, "estimates.json")) as f:
        est = json.load(f)
    ns = est["median"]["point_estimate"]
    tp = (bench.get("throughput") or {}).get("Bytes")
    if not tp:
        continue
    results[bench["full_id"]] = (tp / (ns / 1e9) / (1 << 20), ns)


def mib(x):
    return "%.0f" % x if x >= 100 else "%.1f" % x


def get(fid):
    return results.get(fid, (None, None))[0]


def split(fid):
    parts = fid.split("/")
    return parts


print("### permessage-deflate through the extension stack (MiB/s of message bytes)\n")
for group in ("deflate/size", "deflate/corpus", "deflate/setting", "deflate/backend"):
    ids = sorted({"/".join(k.split("/")[3:]) for k in results if k.startswith(group + "/")},
                 key=lambda s: (s.split("/")[0], int(s.split("/")[-1]) if s.split("/")[-1].isdigit() else 0, s))
    if not ids:
        continue
    print("| %s | compress | decompress |" % group)
    print("|---|---:|---:|")
    for i in ids:
        c = get("%s/compress/%s" % (group, i))
        d = get("%s/decompress/%s" % (group, i))
        print("| %s | %s | %s |" % (i, mib(c) if c else "-", mib(d) if d else "-"))
    print()

print("### Pipeline overhead over zlib-rs called directly (same messages, same settings)\n")
print("| direction | size | raw MiB/s | stack MiB/s | stack overhead | engine MiB/s | engine overhead |")
print("|---|---:|---:|---:|---:|---:|---:|")
for d in ("compress", "decompress"):
    sizes = sorted({int(k.split("/")[-1]) for k in results if k.startswith("overhead/%s/" % d)})
    for s in sizes:
        raw = results.get("overhead/%s/raw/chat-json/%d" % (d, s))
        st = results.get("overhead/%s/stack/chat-json/%d" % (d, s))
        en = results.get("overhead/%s/engine/chat-json/%d" % (d, s))
        if not raw:
            continue
        ov = lambda x: "-" if not x else "%+.1f%%" % (100 * (x[1] / raw[1] - 1))
        print("| %s | %d | %s | %s | %s | %s | %s |" % (
            d, s, mib(raw[0]), mib(st[0]) if st else "-", ov(st), mib(en[0]) if en else "-", ov(en)))
print("\n(overhead = time / raw time - 1; negative means faster than the raw loop, i.e. noise)\n")

print("### Frame codec, uncompressed binary messages: wsx vs tungstenite 0.30\n")
print("| direction | size | tungstenite MiB/s | wsx MiB/s | wsx / tungstenite |")
print("|---|---:|---:|---:|---:|")
for d in ("send", "recv"):
    sizes = sorted({int(k.split("/")[-1]) for k in results if k.startswith("codec/%s/" % d)})
    for s in sizes:
        t = get("codec/%s/tungstenite/binary/%d" % (d, s))
        w = get("codec/%s/wsx/binary/%d" % (d, s))
        if t and w:
            print("| %s | %d | %s | %s | %.2fx |" % (d, s, mib(t), mib(w), w / t))
