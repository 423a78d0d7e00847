#!/usr/bin/env python3
"""Broadcast cohorts against real inflaters.

Starts `wsx serve --broadcast` (with the given extra flags; tracing on for
wsx::broadcast), then members of one room join in waves: Python
`websockets` clients and Node `ws` clients, all with permessage-deflate and
context takeover (no `server_no_context_takeover`), so the server serves
them from cohorts: one compressor per group of members that were sent the
same messages. A sender (a member too) sends text and binary messages of
varied sizes (chat JSON that repeats earlier words, non-ASCII text, 70 KB
messages past the 65535-byte length boundary, compressible binary); each
is sent once every member has the previous one. Between waves, some
members leave. Every member must receive, byte-exact, with its type and in
order, every message sent from its join on (a wrong back-reference in a
cohort frame would show as altered bytes or an inflate error). The
server's log must show cohorts being started (a check that cannot pass
without cohorts).

    broadcast_check.py --wsx target/release/wsx [--flags "--broadcast-cohorts 2"]
        [--label L]

Prints PASS/FAIL lines, then `RESULT<TAB>node<TAB>L<TAB>passed<TAB>failed`
(conformance.sh runs it in its `node` part, which installs both peers).
Node runs with NODE_PATH pointing at a `ws` install.
"""

import argparse
import asyncio
import hashlib
import json
import os
import re
import shlex
import sys

from websockets.asyncio.client import connect

WAVES = 3
PY_PER_WAVE = 3
NODE_PER_WAVE = 1
PER_WAVE = 40
ROOM = "/chat/cohorts"
WAIT = 20.0

NODE_MEMBER = r"""
const WebSocket = require('ws');
const crypto = require('crypto');
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const ws = new WebSocket(process.argv[1], {perMessageDeflate: {threshold: 0}, maxPayload: 1 << 22});
ws.on('open', () => out({open: ws.extensions}));
ws.on('message', (data, isBinary) => {
  const b = Buffer.isBuffer(data) ? data : Buffer.concat(data);
  out({kind: isBinary ? 'binary' : 'text', len: b.length,
       sha: crypto.createHash('sha256').update(b).digest('hex')});
});
ws.on('error', (e) => out({error: String(e)}));
ws.on('close', (code) => { out({close: code}); process.exit(0); });
process.stdin.on('end', () => ws.close(1000));
process.stdin.resume();
"""

WORDS = ["hello", "everyone", "the build is green", "who broke main?", "ünïcødé",
         "lunch at noon", "shipping it", "deflate all the things", "数据", "😀"]


def message(n):
    """Room message n: (kind, bytes)."""
    if n % 11 == 5:
        # Compressible binary.
        return "binary", bytes((i * 7 + n) % 64 for i in range(2000 + 37 * n))
    text = " ".join(WORDS[(n + 3 * i) % len(WORDS)] for i in range(1 + (n * 7) % 6))
    if n % 13 == 7:
        text = (text + " ") * (70000 // (len(text) + 1) + 1)  # past 65535 bytes
    elif n % 5 == 2:
        text = (text + " ") * 40
    body = json.dumps({"seq": n, "user": ["ada", "grace", "linus"][n % 3], "text": text},
                      ensure_ascii=False)
    return "text", body.encode()


def digest(kind, data):
    return kind, len(data), hashlib.sha256(data).hexdigest()


class Results:
    def __init__(self, label):
        self.label, self.passed, self.failed = label, 0, 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"PASS {name}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {name}: {detail}", flush=True)


class PyMember:
    def __init__(self, name, start):
        self.name, self.start, self.got = name, start, []

    async def open(self, url):
        self.ws = await connect(url, max_size=1 << 22)
        self.ext = self.ws.response.headers.get("Sec-WebSocket-Extensions", "")
        self.task = asyncio.create_task(self.read())

    async def read(self):
        try:
            async for m in self.ws:
                if isinstance(m, str):
                    self.got.append(digest("text", m.encode()))
                else:
                    self.got.append(digest("binary", m))
        except Exception as e:  # noqa: BLE001 (reported as a mismatch)
            self.got.append(("error", 0, repr(e)))

    async def close(self):
        await self.ws.close()
        await self.task


class NodeMember:
    def __init__(self, name, start):
        self.name, self.start, self.got = name, start, []

    async def open(self, url):
        self.proc = await asyncio.create_subprocess_exec(
            "node", "-e", NODE_MEMBER, url, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE)
        line = await asyncio.wait_for(self.proc.stdout.readline(), WAIT)
        self.ext = json.loads(line or b"{}").get("open", "")
        self.task = asyncio.create_task(self.read())

    async def read(self):
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                return
            o = json.loads(line)
            if "kind" in o:
                self.got.append((o["kind"], o["len"], o["sha"]))
            elif "error" in o:
                self.got.append(("error", 0, o["error"]))

    async def close(self):
        self.proc.stdin.close()
        await asyncio.wait_for(self.proc.wait(), WAIT)
        await self.task


async def until(pred, what):
    t = asyncio.get_running_loop().time()
    while not pred():
        if asyncio.get_running_loop().time() - t > WAIT:
            raise TimeoutError(what)
        await asyncio.sleep(0.002)


async def run(wsx, flags, res):
    args = [wsx, "serve", "--broadcast", "--listen", "127.0.0.1:0"] + flags
    env = dict(os.environ, RUST_LOG="warn,wsx::broadcast=debug")
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL, env=env)
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    m = re.search(rb"listening on ws://[^:]+:(\d+)", line)
    if not m:
        proc.kill()
        res.check(f"`{shlex.join(args)}` starts", False, repr(line))
        return
    url = f"ws://127.0.0.1:{int(m.group(1))}{ROOM}"
    stderr = asyncio.create_task(proc.stderr.read())
    sent = []          # digests, in order
    members = []       # every member ever
    live = []
    try:
        sender = PyMember("sender", 0)
        await sender.open(url)
        members.append(sender)
        live.append(sender)
        for wave in range(WAVES):
            for i in range(PY_PER_WAVE + NODE_PER_WAVE):
                cls = PyMember if i < PY_PER_WAVE else NodeMember
                mem = cls(f"wave {wave} {cls.__name__[:-6].lower()} {i}", len(sent))
                await mem.open(url)
                members.append(mem)
                live.append(mem)
            for _ in range(PER_WAVE):
                n = len(sent)
                kind, data = message(n)
                await sender.ws.send(data.decode() if kind == "text" else data)
                sent.append(digest(kind, data))
                await until(lambda: all(len(x.got) >= len(sent) - x.start for x in live),
                            f"message {n} reached every member")
            # Some members leave between waves (one of each kind).
            if wave < WAVES - 1:
                for leaving in [x for x in live if x.start == len(sent) - PER_WAVE][-2:]:
                    await leaving.close()
                    leaving.stop = len(sent)
                    live.remove(leaving)
        for x in live:
            await x.close()
            x.stop = len(sent)
    except (TimeoutError, OSError, asyncio.TimeoutError) as e:
        res.check("the run completes", False, repr(e))
        for x in members:
            x.stop = getattr(x, "stop", len(sent))
    finally:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
    log = (await stderr).decode(errors="replace")
    for x in members:
        res.check(f"{x.name}: permessage-deflate with context takeover ({x.ext})",
                  x.ext.startswith("permessage-deflate") and "server_no_context_takeover" not in x.ext,
                  x.ext)
        want = sent[x.start:x.stop]
        got = x.got[:len(want)]
        bad = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), None)
        res.check(f"{x.name}: messages {x.start}..{x.stop} byte-exact, typed, in order",
                  got == want and len(x.got) == len(want),
                  f"{len(x.got)} received for {len(want)} sent; first difference at "
                  f"{None if bad is None else x.start + bad}: "
                  f"{None if bad is None else (got[bad], want[bad])}")
    started = len(re.findall(r"cohort started", log))
    res.check(f"the server started cohorts ({started}) for the {WAVES} waves", started >= WAVES,
              log[-2000:])
    panics = "panicked" in log
    res.check("no panic in the server's log", not panics, log[-2000:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wsx", required=True)
    ap.add_argument("--flags", default="")
    ap.add_argument("--label", default=None)
    a = ap.parse_args()
    flags = shlex.split(a.flags)
    label = a.label or ("broadcast cohorts: websockets + Node ws members -> wsx serve --broadcast"
                        + (" " + a.flags if a.flags else ""))
    res = Results(label)
    asyncio.run(run(a.wsx, flags, res))
    print(f"RESULT\tnode\t{label}\t{res.passed}\t{res.failed}", flush=True)
    sys.exit(0 if res.failed == 0 else 1)


if __name__ == "__main__":
    main()
