#!/usr/bin/env python3
"""Context hibernation against real peers.

Starts `wsx serve --hibernate-after 0.3` (tracing on for ws_deflate), then a
Python `websockets` client or a Node `ws` client sends rounds of JSON chat
messages over one permessage-deflate connection with context takeover,
pausing 0.8 s between rounds so the server hibernates both directions
(packs its LZ77 windows, returns its compressor and decompressor) and
restores them on the next message. Every echo must be byte-exact, and the
server's log must show the hibernations and the wake-ups (a check that
cannot pass without them happening).

    hibernate_check.py --wsx target/release/wsx --peer python|node

Prints PASS/FAIL lines, then `RESULT <peer> <role> <passed> <failed>`.
Node runs with NODE_PATH pointing at a `ws` install.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time

ROUNDS = 4
PER_ROUND = 25
PAUSE = 0.8

OFFERS = {
    # name: (python client_max_window_bits, node perMessageDeflate options)
    "default offer": (True, {"threshold": 0}),
    "client_max_window_bits=10": (10, {"threshold": 0, "clientMaxWindowBits": 10}),
}


def message(rnd, i):
    users = ["ana", "bartholomew", "chen", "dmitri", "eve"]
    return json.dumps(
        {
            "type": "message",
            "id": 100000 + rnd * 1000 + i,
            "room": "general",
            "user": users[i % 5],
            "text": "the quick brown fox jumps over the lazy dog " * (1 + (rnd * 7 + i) % 9),
        }
    )


NODE_CLIENT = r"""
const WebSocket = require('ws');
const [url, opts, rounds, per, pause] = [process.argv[2], JSON.parse(process.argv[3]),
  +process.argv[4], +process.argv[5], +process.argv[6]];
const users = ['ana', 'bartholomew', 'chen', 'dmitri', 'eve'];
const msg = (r, i) => JSON.stringify({type: 'message', id: 100000 + r * 1000 + i, room: 'general',
  user: users[i % 5], text: 'the quick brown fox jumps over the lazy dog '.repeat(1 + (r * 7 + i) % 9)});
const ws = new WebSocket(url, {perMessageDeflate: opts});
let r = 0, i = 0, cur, ok = 0;
const next = () => { cur = msg(r, i); ws.send(cur); };
ws.on('open', next);
ws.on('message', (d) => {
  if (d.toString() !== cur) { console.log('MISMATCH ' + r + ' ' + i); process.exit(1); }
  ok++; i++;
  if (i === per) { r++; i = 0; if (r === rounds) { console.log('OK ' + ok + ' ' + ws.extensions); ws.close(); return; }
    setTimeout(next, pause * 1000); return; }
  next();
});
ws.on('error', (e) => { console.log('ERROR ' + e.message); process.exit(1); });
"""


async def python_client(url, bits):
    from websockets.asyncio.client import connect
    from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

    ok = 0
    async with connect(
        url,
        extensions=[ClientPerMessageDeflateFactory(client_max_window_bits=bits)],
        compression=None,
        max_size=None,
    ) as ws:
        ext = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        for rnd in range(ROUNDS):
            for i in range(PER_ROUND):
                m = message(rnd, i)
                await ws.send(m)
                got = await ws.recv()
                if got != m:
                    return False, f"echo {rnd}/{i} differs"
                ok += 1
            if rnd + 1 < ROUNDS:
                await asyncio.sleep(PAUSE)
    return True, f"{ok} echoes exact ({ext})"


def node_client(url, opts):
    with tempfile.NamedTemporaryFile("w", suffix=".js", delete=False) as f:
        f.write(NODE_CLIENT)
        path = f.name
    try:
        out = subprocess.run(
            ["node", path, url, json.dumps(opts), str(ROUNDS), str(PER_ROUND), str(PAUSE)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        os.unlink(path)
    line = (out.stdout.strip().splitlines() or [out.stderr.strip()])[-1]
    return line.startswith("OK "), line


def start_server(wsx, log):
    env = dict(os.environ, RUST_LOG="warn,ws_deflate=trace")
    p = subprocess.Popen(
        [wsx, "serve", "--listen", "127.0.0.1:0", "--hibernate-after", "0.3"],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env=env,
    )
    line = p.stdout.readline()
    if not line.startswith("listening on "):
        p.kill()
        raise SystemExit(f"wsx serve did not start: {line!r}")
    return p, line.split()[-1] + "/"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wsx", required=True)
    ap.add_argument("--peer", choices=["python", "node"], required=True)
    a = ap.parse_args()
    passed = failed = 0
    for name, (bits, opts) in OFFERS.items():
        with tempfile.TemporaryFile("w+") as log:
            server, url = start_server(a.wsx, log)
            try:
                if a.peer == "python":
                    ok, detail = asyncio.run(python_client(url, bits))
                else:
                    ok, detail = node_client(url, opts)
            except Exception as e:  # a failed handshake, a closed connection
                ok, detail = False, f"{type(e).__name__}: {e}"
            finally:
                time.sleep(0.2)
                server.terminate()
                server.wait(timeout=10)
            log.seek(0)
            text = log.read()
        hib = text.count("compressor hibernated") + text.count("decompressor hibernated")
        woke = text.count("woken from hibernation")
        # Both directions hibernate after each of the first ROUNDS-1 rounds
        # and wake on the next.
        want = 2 * (ROUNDS - 1)
        if ok and (hib < want or woke < want):
            ok, detail = False, f"{detail}; only {hib} hibernations / {woke} wake-ups (want {want})"
        else:
            detail = f"{detail}; {hib} hibernations, {woke} wake-ups"
        print(f"{'PASS' if ok else 'FAIL'} hibernation, {name}: {detail}")
        passed += ok
        failed += not ok
    print(f"RESULT\t{a.peer}\thibernation: client -> wsx serve\t{passed}\t{failed}")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
