"""What benches/side_by_side_report.py and benches/broadcast_report.py read
from a run's output directory: meta.json and the JSON-lines files."""

import json
import os
import sys


def out_dir(default_name):
    """The run directory: the first argument, else target/DEFAULT_NAME."""
    if len(sys.argv) > 1:
        return sys.argv[1]
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", default_name)


def jsonl(out, name):
    """The records of OUT/NAME, one JSON object a line ([] if absent)."""
    path = os.path.join(out, name)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def meta(out):
    """OUT/meta.json."""
    with open(os.path.join(out, "meta.json")) as f:
        return json.load(f)


def failed_servers(out):
    """Server name -> why it failed, from OUT/failed.jsonl."""
    return {r["server"]: r["failed"] for r in jsonl(out, "failed.jsonl")}
