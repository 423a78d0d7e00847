#!/usr/bin/env python3
"""Interop matrix: wsx against Python `websockets` and Node `ws`, both roles.

    interop.py --wsx BIN --peer python|node [--node-peer ws_peer.js] [--only-role serve|client]

Role "serve": peer clients with many permessage-deflate offers connect to
`wsx serve` (started here with various deflate flags); every message is
checked byte for byte and the negotiated header against RFC 7692 and the
flags. Role "client": `wsx client` (with various flags) talks to a peer echo
server (with various deflate settings); stdin lines must come back on stdout
exactly, the offer must match the flags, stderr must report the negotiated
extension. Python peer only: raw-socket handshake probes of `wsx serve`, and
role "subprotocol": clients offering subprotocols (`subprotocols=[...]`) to
`wsx serve --protocol chat.v2 --protocol chat.v1`, checking the selected one
(the server's most preferred offered, none when nothing matches) and that an
invalid `--protocol` stops `wsx serve` at startup.

Prints PASS/FAIL lines, then `RESULT <peer> <role> <passed> <failed>` lines
for conformance.sh's summary. Exit status 1 on any failure.
"""
import argparse
import asyncio
import base64
import hashlib
import json
import os
import random
import re
import shlex
import sys
import time

os.environ.setdefault("WEBSOCKETS_MAX_FRAGMENTS", "1000000")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pmd import Offer, Policy, check_server_response, parse_extensions  # noqa: E402

WSX = None
VERBOSE = False
T_START = time.time()


# ------------------------------------------------------------------ results
class Results:
    def __init__(self):
        self.groups = {}
        self.failures = []

    def group(self, peer, role):
        """Declare a result group before its first check, so that a role
        which records nothing still prints a RESULT line (with 0 passed,
        which conformance.sh counts as a failure) instead of vanishing."""
        self.groups.setdefault((peer, role), [0, 0])
        return (peer, role)

    def add(self, group, name, ok, detail=""):
        p, f = self.groups.setdefault(group, [0, 0])
        if ok:
            self.groups[group] = [p + 1, f]
            if VERBOSE:
                print(f"PASS [{group[0]} {group[1]}] {name}", flush=True)
        else:
            self.groups[group] = [p, f + 1]
            self.failures.append((group, name, detail))
            print(f"FAIL [{group[0]} {group[1]}] {name}: {detail}", flush=True)


R = Results()


# ------------------------------------------------------------------ messages
WORDS = ["alpha", "beta", "gamma", "delta", "websocket", "deflate", "window",
         "context", "takeover", "frame", "mask", "Ω", "ü", "数据", "😀"]


def words(n, seed):
    rnd = random.Random(seed)
    out, size = [], 0
    while size < n:
        w = rnd.choice(WORDS) + " "
        out.append(w)
        size += len(w.encode())
    b = "".join(out).encode()[:n]
    return b.decode("utf-8", "ignore")


# name, kind, size, fragments (sizes of all but the last fragment)
SUITE = [
    dict(name="empty-text", kind="text", size=0),
    dict(name="empty-binary", kind="zeros", size=0),
    dict(name="tiny-text", kind="text", size=1),
    dict(name="tiny-binary", kind="zeros", size=1),
    dict(name="utf8-multibyte", kind="utf8", size=50),
    dict(name="text-100", kind="text", size=100, seed=1),
    dict(name="text-1000", kind="text", size=1000, seed=2),
    dict(name="text-8191", kind="text", size=8191, seed=3),
    dict(name="text-65536", kind="text", size=65536, seed=4),
    dict(name="text-repeat-1", kind="text", size=20000, seed=5),
    dict(name="text-repeat-2", kind="text", size=20000, seed=5),
    dict(name="text-repeat-3", kind="text", size=20000, seed=5),
    dict(name="text-1MiB", kind="text", size=1 << 20, seed=6),
    dict(name="text-fragmented", kind="text", size=200000, seed=8, frags=[1, 100, 4096, 50000]),
    dict(name="binary-fragmented", kind="binary", size=100000, seed=9, frags=[10, 10, 30000]),
    dict(name="random-fragmented", kind="random", size=70000, frags=[65536]),
    dict(name="binary-text-like-300k", kind="binary", size=300000, seed=10),
    dict(name="zeros-300k", kind="zeros", size=300000),
    dict(name="random-1000", kind="random", size=1000),
    dict(name="random-65536", kind="random", size=65536),
    dict(name="random-1MiB", kind="random", size=1 << 20),
    dict(name="text-after-random", kind="text", size=5000, seed=11),
    dict(name="empty-text-again", kind="text", size=0),
]


def make_message(m):
    k = m["kind"]
    if k == "text":
        return words(m["size"], m.get("seed", 7))
    if k == "utf8":
        return "héllo wörld ✓ 😀 " * m["size"]
    if k == "binary":
        return words(m["size"], m.get("seed", 9)).encode()
    if k == "random":
        return os.urandom(m["size"])
    if k == "zeros":
        return bytes(m["size"])
    raise ValueError(k)


def fragments(data, sizes):
    off = 0
    for s in sizes:
        yield data[off:off + s]
        off += s
    yield data[off:]


def text_fragments(text, sizes):
    # fragment on characters so each piece is a str; sizes counted in chars
    return list(fragments(text, sizes))


def lines_for_client():
    """stdin lines for `wsx client`: varying lengths, empty lines, unicode."""
    rnd = random.Random(42)
    lines = ["", "a", "hello", ""]
    for i in range(150):
        n = rnd.choice([0, 1, 2, 10, 100, 125, 126, 127, 1000, 4096, 65535, 65536, 70000])
        lines.append(words(n, i).replace("\n", " "))
    lines += ["", "x" * 300000, words(200000, 99), "", "Ω" * 50000]
    lines += [words(1 << 20, 100), "end", ""]
    return lines


# ------------------------------------------------------------------ wsx serve
class Serve:
    def __init__(self, flags):
        self.flags = flags

    async def __aenter__(self):
        args = [WSX, "serve", "--listen", "127.0.0.1:0"] + self.flags
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "wsx=debug")  # failures then show wsx's reason
        self.proc = await asyncio.create_subprocess_exec(
            *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL, env=env)
        try:
            line = await asyncio.wait_for(self.proc.stdout.readline(), 30)
        except asyncio.TimeoutError:
            line = b""
        m = re.search(rb"listening on wss?://(\[[^\]]+\]|[^:/\s]+):(\d+)", line)
        if not m:
            err = b""
            if self.proc.returncode is None:
                self.proc.kill()
            try:
                err = await asyncio.wait_for(self.proc.stderr.read(), 5)
            except asyncio.TimeoutError:
                pass
            raise RuntimeError(f"`{shlex.join(args)}` did not print 'listening on ws://IP:PORT' "
                               f"(stdout {line!r}, stderr {err[-2000:]!r})")
        self.port = int(m.group(2))
        self.url = f"ws://127.0.0.1:{self.port}/echo"
        self.stderr_task = asyncio.create_task(self.proc.stderr.read())
        return self

    async def __aexit__(self, *exc):
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self.stderr = await self.stderr_task


# ------------------------------------------------------------------ python peer
async def py_client_run(url, offers, group, label):
    """offers: list of Offer, or None for no compression offer."""
    from websockets.asyncio.client import connect
    from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

    if offers is None:
        kw = dict(compression=None)
    else:
        exts = [ClientPerMessageDeflateFactory(
            server_no_context_takeover=o.snct, client_no_context_takeover=o.cnct,
            server_max_window_bits=o.smwb, client_max_window_bits=o.cmwb) for o in offers]
        kw = dict(compression=None, extensions=exts)
    try:
        async with connect(url, max_size=None, proxy=None, open_timeout=20,
                           close_timeout=10, **kw) as ws:
            resp = ws.response.headers.get_all("Sec-WebSocket-Extensions")
            for m in SUITE:
                data = make_message(m)
                if m.get("frags"):
                    await ws.send(list(fragments(data, m["frags"])))
                else:
                    await ws.send(data)
                try:
                    echo = await asyncio.wait_for(ws.recv(), 60)
                except Exception as e:
                    R.add(group, f"{label} / {m['name']}", False, f"no echo: {type(e).__name__}: {e}")
                    raise
                ok = type(echo) is type(data) and echo == data
                R.add(group, f"{label} / {m['name']}", ok,
                      "" if ok else f"echo differs: sent {type(data).__name__} {len(data)}, "
                                    f"got {type(echo).__name__} {len(echo)}")
            await ws.close()
            code = ws.close_code
            sent = ws.request.headers.get_all("Sec-WebSocket-Extensions")
        R.add(group, f"{label} / clean close", code == 1000, f"close code {code}")
        return resp, sent
    except Exception as e:
        R.add(group, f"{label} / connection", False, f"{type(e).__name__}: {e}")
        return None, None


class PyEchoServer:
    """Python websockets echo server with one deflate configuration."""

    def __init__(self, factory_kw):
        self.factory_kw = factory_kw
        self.conns = []

    async def __aenter__(self):
        from websockets.asyncio.server import serve
        from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

        if self.factory_kw is None:
            kw = dict(compression=None)
        else:
            kw = dict(compression=None,
                      extensions=[ServerPerMessageDeflateFactory(**self.factory_kw)])

        async def echo(ws):
            rec = dict(offer=ws.request.headers.get_all("Sec-WebSocket-Extensions"),
                       response=ws.response.headers.get_all("Sec-WebSocket-Extensions"),
                       count=0, close=None)
            self.conns.append(rec)
            try:
                async for m in ws:
                    rec["count"] += 1
                    await ws.send(m)
            except Exception as e:
                rec["error"] = f"{type(e).__name__}: {e}"
            rec["close"] = ws.close_code

        self.server = await serve(echo, "127.0.0.1", 0, max_size=None, **kw).__aenter__()
        self.port = next(iter(self.server.sockets)).getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}/"
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        await self.server.wait_closed()


# ------------------------------------------------------------------ node peer
NODE_PEER = None


def node_opts(o):
    if o is None:
        return None
    d = {}
    if o.snct:
        d["serverNoContextTakeover"] = True
    if o.cnct:
        d["clientNoContextTakeover"] = True
    if o.smwb is not None:
        d["serverMaxWindowBits"] = o.smwb
    if o.cmwb is not None:
        d["clientMaxWindowBits"] = o.cmwb
    return d


async def node_client_run(url, offers, group, label):
    opts = None if offers is None else node_opts(offers[0])
    proc = await asyncio.create_subprocess_exec(
        "node", NODE_PEER, "client", url, json.dumps(opts), json.dumps(SUITE),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 180)
    except asyncio.TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
    resp, close, seen, errors = None, None, set(), []
    offers_sent = []
    for line in out.decode().splitlines():
        ev = json.loads(line)
        if "open" in ev:
            e = ev["open"]["extensions"]
            resp = [] if e is None else [e]
            if ev["open"].get("offer"):
                offers_sent.append(ev["open"]["offer"])
        elif "msg" in ev:
            seen.add(ev["msg"])
            R.add(group, f"{label} / {ev['msg']}", ev["ok"], ev.get("detail") or "")
        elif "close" in ev:
            close = ev["close"]
        elif "error" in ev:
            errors.append(ev["error"])
    missing = [m["name"] for m in SUITE if m["name"] not in seen]
    if missing:
        R.add(group, f"{label} / connection", False,
              f"{len(missing)} messages never echoed (first {missing[0]}); close {close}; "
              f"errors {errors}; stderr {err.decode()[-500:]}")
    else:
        R.add(group, f"{label} / clean close", close == 1000, f"close {close}; errors {errors}")
    return resp, offers_sent


class NodeEchoServer:
    def __init__(self, opts):
        self.opts = opts
        self.conns = []

    async def __aenter__(self):
        self.proc = await asyncio.create_subprocess_exec(
            "node", NODE_PEER, "server", json.dumps(self.opts),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        line = await asyncio.wait_for(self.proc.stdout.readline(), 30)
        self.port = json.loads(line)["port"]
        self.url = f"ws://127.0.0.1:{self.port}/"
        self.reader = asyncio.create_task(self._read())
        return self

    async def _read(self):
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                return
            ev = json.loads(line)
            if "offer" in ev:
                self.conns.append(dict(
                    offer=[] if ev["offer"] is None else [ev["offer"]],
                    response=[] if ev["response"] is None else [ev["response"]],
                    close=None))
            elif "closed" in ev and self.conns:
                self.conns[-1]["close"] = ev["closed"]

    async def __aexit__(self, *exc):
        await asyncio.sleep(0.2)
        self.proc.terminate()
        await self.proc.wait()
        self.reader.cancel()


# ------------------------------------------------------------------ role: peer client -> wsx serve
def serve_matrix(peer):
    bits_s = range(8, 16) if peer == "node" else range(8, 16)   # python client: smwb 8..15
    bits_c = range(8, 16) if peer == "node" else range(9, 16)   # python client: cmwb 9..15
    M = []
    d = Policy()
    M.append((d, "default offer (client_max_window_bits)", [Offer(cmwb=True)]))
    M.append((d, "bare permessage-deflate", [Offer()]))
    for n in bits_s:
        M.append((d, f"server_max_window_bits={n}", [Offer(smwb=n)]))
    for n in bits_c:
        M.append((d, f"client_max_window_bits={n}", [Offer(cmwb=n)]))
    M.append((d, "server_no_context_takeover", [Offer(snct=True)]))
    M.append((d, "client_no_context_takeover", [Offer(cnct=True)]))
    M.append((d, "Autobahn 12.x offer (client_no_context_takeover; client_max_window_bits)",
              [Offer(cnct=True, cmwb=True)]))
    M.append((d, "both no_context_takeover", [Offer(snct=True, cnct=True, cmwb=True)]))
    M.append((d, "all four", [Offer(snct=True, cnct=True, smwb=10, cmwb=11)]))
    M.append((d, "no compression offered", None))
    if peer == "python":  # ws offers one only
        M.append((d, "two offers (snct+smwb=9, default)",
                  [Offer(snct=True, smwb=9), Offer(cmwb=True)]))
        M.append((d, "two offers (smwb=8, smwb=12)", [Offer(smwb=8), Offer(smwb=12)]))
        M.append((d, "three offers like 13.7",
                  [Offer(cnct=True, cmwb=True, snct=True, smwb=9),
                   Offer(cnct=True, cmwb=True, snct=True), Offer(cnct=True, cmwb=True)]))
    pol = [
        (Policy(smwb=10), [[Offer(cmwb=True)], [Offer(smwb=12)], [Offer(smwb=9)]]),
        (Policy(cmwb=11), [[Offer(cmwb=True)], [Offer(cmwb=9)], [Offer()]]),
        (Policy(snct=True), [[Offer(cmwb=True)]]),
        (Policy(cnct=True), [[Offer(cmwb=True)]]),
        (Policy(smwb=9, cmwb=9, snct=True, cnct=True), [[Offer(cmwb=True)]]),
        (Policy(enabled=False), [[Offer(cmwb=True)]]),
    ]
    for p, offer_sets in pol:
        for offers in offer_sets:
            M.append((p, " + ".join(str(o) for o in offers), offers))
    extra = [
        (["--deflate-level", "1"], "default offer"),
        (["--deflate-level", "9"], "default offer"),
        (["--compress-threshold", "0"], "default offer"),
        (["--compress-threshold", "100000"], "default offer"),
    ]
    for flags, label in extra:
        p = Policy()
        p.extra = flags
        M.append((p, label, [Offer(cmwb=True)]))
    return M


async def role_serve(peer):
    group = R.group(peer, "client -> wsx serve")
    run = py_client_run if peer == "python" else node_client_run
    for policy, label, offers in serve_matrix(peer):
        flags = policy.flags() + getattr(policy, "extra", [])
        name = f"[wsx serve {' '.join(flags) or '(defaults)'}] offer {label}"
        nfail = len(R.failures)
        try:
            async with Serve(flags) as srv:
                resp = await run(srv.url, offers, group, name)
        except RuntimeError as e:
            R.add(group, name, False, str(e))
            continue
        if len(R.failures) > nfail:
            tail = srv.stderr.decode("utf-8", "replace").strip().splitlines()[-6:]
            print("    wsx serve stderr: " + ("\n    ".join(tail) or "(empty)"), flush=True)
        resp, raw = resp
        if resp is None:
            continue
        errs, acc, idx = check_server_response(raw, policy, resp)
        R.add(group, f"{name} / offer {raw} -> {resp}", not errs, "; ".join(errs))


# ------------------------------------------------------------------ role: wsx client -> peer server
def client_matrix(peer):
    M = []  # (server config label, server config, wsx client flags)
    if peer == "python":
        M.append(("default", {}, []))
        for n in range(9, 16):
            M.append((f"server_max_window_bits={n}", dict(server_max_window_bits=n), []))
        for n in range(8, 16):
            M.append((f"client_max_window_bits={n}", dict(client_max_window_bits=n), []))
        M.append(("server_no_context_takeover", dict(server_no_context_takeover=True), []))
        M.append(("client_no_context_takeover", dict(client_no_context_takeover=True), []))
        M.append(("all four", dict(server_no_context_takeover=True, client_no_context_takeover=True,
                                   server_max_window_bits=10, client_max_window_bits=11), []))
        M.append(("require client_max_window_bits=12",
                  dict(client_max_window_bits=12, require_client_max_window_bits=True), []))
        M.append(("no compression", None, []))
        dflt = {}
    else:
        M.append(("default", {}, []))
        for n in range(8, 16):
            M.append((f"serverMaxWindowBits={n}", dict(serverMaxWindowBits=n), []))
        for n in range(8, 16):
            M.append((f"clientMaxWindowBits={n}", dict(clientMaxWindowBits=n), []))
        M.append(("serverNoContextTakeover", dict(serverNoContextTakeover=True), []))
        M.append(("clientNoContextTakeover", dict(clientNoContextTakeover=True), []))
        M.append(("all four", dict(serverNoContextTakeover=True, clientNoContextTakeover=True,
                                   serverMaxWindowBits=10, clientMaxWindowBits=11), []))
        M.append(("no compression", None, []))
        dflt = {}
    for flags in (["--server-max-window-bits", "10"], ["--client-max-window-bits", "9"],
                  ["--server-no-context-takeover"], ["--client-no-context-takeover"],
                  ["--server-max-window-bits", "9", "--client-max-window-bits", "9",
                   "--server-no-context-takeover", "--client-no-context-takeover"],
                  ["--no-deflate"]):
        M.append(("default", dflt, flags))
    return M


async def run_wsx_client(args, stdin, expect_lines):
    """Feed stdin to `wsx client`, wait until all expected echoes are on its
    stdout, and only then end stdin. (A client that closes right after its
    last send may legitimately miss echoes: RFC 6455 lets a peer answer a Close
    at once, and python websockets does, dropping echoes it has not sent yet.)"""
    proc = await asyncio.create_subprocess_exec(
        *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, limit=64 << 20)
    err_task = asyncio.create_task(proc.stderr.read())
    out = bytearray()
    rc = None

    async def feed():
        proc.stdin.write(stdin)
        await proc.stdin.drain()

    async def collect():
        n = 0
        while n < expect_lines:
            line = await proc.stdout.readline()
            if not line:
                return
            out.extend(line)
            n += 1

    feeder = asyncio.create_task(feed())
    try:
        await asyncio.wait_for(collect(), 120)
    except asyncio.TimeoutError:
        pass
    try:
        await asyncio.wait_for(feeder, 10)
    except (BrokenPipeError, ConnectionResetError):
        pass  # wsx exited early; its exit status tells
    except asyncio.TimeoutError:
        feeder.cancel()
    try:
        proc.stdin.close()  # EOF: wsx must now close cleanly and exit 0
    except (BrokenPipeError, ConnectionResetError):
        pass
    try:
        out.extend(await asyncio.wait_for(proc.stdout.read(), 30))
        rc = await asyncio.wait_for(proc.wait(), 30)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        rc = "killed: no exit within 30 s after stdin EOF"
    err = await err_task
    return bytes(out), err, rc


def offer_fits_flags(offer_values, flags):
    """The first permessage-deflate offer wsx client sent must follow its flags."""
    try:
        exts = parse_extensions(offer_values)
    except ValueError as e:
        return [f"unparsable offer {offer_values}: {e}"]
    pmd = [p for n, p in exts if n.lower() == "permessage-deflate"]
    if "--no-deflate" in flags:
        return [f"--no-deflate but offered {offer_values}"] if pmd else []
    if not pmd:
        return [f"no permessage-deflate offer (sent {offer_values})"]
    try:
        o = Offer.from_params(pmd[0])
    except ValueError as e:
        return [f"invalid offer {offer_values}: {e}"]
    e = []
    f = " ".join(flags)
    m = re.search(r"--server-max-window-bits (\d+)", f)
    if m and (o.smwb is None or o.smwb > int(m.group(1))):
        e.append(f"{m.group(0)} but offer has server_max_window_bits={o.smwb}")
    m = re.search(r"--client-max-window-bits (\d+)", f)
    if m and (o.cmwb in (None, True) or o.cmwb > int(m.group(1))):
        e.append(f"{m.group(0)} but offer has client_max_window_bits={o.cmwb}")
    if not m and o.cmwb is None:
        e.append("default offer lacks client_max_window_bits")
    if "--server-no-context-takeover" in flags and not o.snct:
        e.append("--server-no-context-takeover not offered")
    if "--client-no-context-takeover" in flags and not o.cnct:
        e.append("--client-no-context-takeover not offered")
    return e


async def role_client(peer):
    group = R.group(peer, "wsx client -> server")
    lines = lines_for_client()
    stdin = ("\n".join(lines) + "\n").encode()
    for label, cfg, flags in client_matrix(peer):
        name = f"[{peer} server {label}] wsx client {' '.join(flags) or '(defaults)'}"
        server = PyEchoServer(cfg) if peer == "python" else NodeEchoServer(cfg)
        async with server as srv:
            args = [WSX, "client"] + flags + [srv.url]
            out, err, rc = await run_wsx_client(args, stdin, len(lines))
            await asyncio.sleep(0.1)
        errtxt = err.decode("utf-8", "replace")
        R.add(group, f"{name} / exit 0", rc == 0, f"exit {rc}; stderr: {errtxt[-800:]}")
        got = out.decode("utf-8", "replace").split("\n")
        want = lines + [""]
        if got == want:
            R.add(group, f"{name} / {len(lines)} lines echoed", True)
        else:
            i = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
            g = got[i] if i < len(got) else None
            w = want[i] if i < len(want) else None
            seen = f"; server received {srv.conns[0]['count']} messages" if srv.conns and "count" in srv.conns[0] else ""
            R.add(group, f"{name} / {len(lines)} lines echoed", False,
                  f"stdout has {len(got) - 1} lines, want {len(lines)}; first difference at line {i}: "
                  f"got {None if g is None else (len(g), g[:40])}, want {None if w is None else (len(w), w[:40])}"
                  f"{seen}")
        if not srv.conns:
            R.add(group, f"{name} / handshake", False, "server saw no WebSocket connection")
            continue
        c = srv.conns[0]
        e = offer_fits_flags(c["offer"], flags)
        R.add(group, f"{name} / offer {c['offer']}", not e, "; ".join(e))
        resp = parse_extensions(c["response"])
        pmd = [p for n, p in resp if n == "permessage-deflate"]
        if pmd:
            miss = []
            if "permessage-deflate" not in errtxt:
                miss.append("permessage-deflate")
            for k, v in pmd[0]:
                pat = re.escape(k) + (r"\W{0,3}" + re.escape(v) if v else "")
                if not re.search(pat, errtxt):
                    miss.append(k if v is None else f"{k}={v}")
            R.add(group, f"{name} / stderr reports {c['response']}", not miss,
                  f"stderr lacks {miss}: {errtxt[:300]!r}")
        elif cfg is not None and "--no-deflate" not in flags:
            R.add(group, f"{name} / negotiated", False,
                  f"server declined the offer {c['offer']} (response {c['response']})")
        R.add(group, f"{name} / clean close seen by server", c.get("close") == 1000,
              f"server saw close code {c.get('close')} {c.get('error', '')}")


# ------------------------------------------------------------------ raw handshake probes
PROBES = [
    # (label, [header lines], expected response: None = no permessage-deflate,
    #  or a set of params the response must have exactly; "8?" = decline or smwb 8)
    ("plain offer", ["permessage-deflate"], set()),
    ("bare client_max_window_bits", ["permessage-deflate; client_max_window_bits"], "any-ok"),
    ("quoted value", ['permessage-deflate; server_max_window_bits="10"'],
     {("server_max_window_bits", "10")}),
    ("server_max_window_bits=8", ["permessage-deflate; server_max_window_bits=8"], "8?"),
    ("client_max_window_bits=8", ["permessage-deflate; client_max_window_bits=8"], "any-ok"),
    ("invalid first offer (7), plain second", ["permessage-deflate; server_max_window_bits=7, permessage-deflate"], set()),
    ("invalid (16) then snct", ["permessage-deflate; server_max_window_bits=16, permessage-deflate; server_no_context_takeover"],
     {("server_no_context_takeover", None)}),
    ("unknown param then plain", ["permessage-deflate; foo=1, permessage-deflate"], set()),
    ("duplicate param then plain", ["permessage-deflate; server_no_context_takeover; server_no_context_takeover, permessage-deflate"], set()),
    ("bad value for nct", ["permessage-deflate; server_no_context_takeover=1"], None),
    ("non-numeric window", ["permessage-deflate; client_max_window_bits=abc"], None),
    ("only unknown extension", ["x-foo-bar"], None),
    ("unknown ext before pmd", ["x-webkit-deflate-frame, permessage-deflate"], set()),
    ("two header lines", ["x-foo", "permessage-deflate; server_no_context_takeover"],
     {("server_no_context_takeover", None)}),
    ("null list elements", [", permessage-deflate ,,"], set()),
    ("whitespace", ["permessage-deflate ;  server_max_window_bits = 11"], {("server_max_window_bits", "11")}),
    ("13.7-style three offers", ["permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=9, "
                                 "permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover, "
                                 "permessage-deflate; client_no_context_takeover; client_max_window_bits"], "first"),
]


async def probe(port, ext_lines):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    req = (f"GET /echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
    for e in ext_lines:
        req += f"Sec-WebSocket-Extensions: {e}\r\n"
    w.write((req + "\r\n").encode())
    await w.drain()
    head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 10)
    w.close()
    lines = head.decode("latin-1").split("\r\n")
    status = lines[0]
    hdrs = [tuple(x.split(":", 1)) for x in lines[1:] if ":" in x]
    accept = [v.strip() for k, v in hdrs if k.lower() == "sec-websocket-accept"]
    exts = [v.strip() for k, v in hdrs if k.lower() == "sec-websocket-extensions"]
    want_accept = base64.b64encode(hashlib.sha1(
        (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
    return status, accept == [want_accept], exts


# ------------------------------------------------------------------ raw deflate exchanges
class RawWS:
    """A minimal client over a plain socket, to control compression exactly:
    what python websockets and ws do not let a test choose (keep the client
    context after offering client_no_context_takeover, inflate the server's
    messages with a small window)."""

    async def open(self, port, offer):
        self.r, self.w = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        self.w.write((f"GET /echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                      f"Sec-WebSocket-Extensions: {offer}\r\n\r\n").encode())
        head = await asyncio.wait_for(self.r.readuntil(b"\r\n\r\n"), 10)
        lines = head.decode("latin-1").split("\r\n")
        exts = [l.split(":", 1)[1].strip() for l in lines[1:] if l.lower().startswith("sec-websocket-extensions:")]
        pmd = [p for n, p in parse_extensions(exts) if n == "permessage-deflate"]
        self.resp = Offer.from_params(pmd[0]) if pmd else None
        return lines[0], exts

    async def send_compressed(self, payload, comp):
        import zlib
        d = comp.compress(payload) + comp.flush(zlib.Z_SYNC_FLUSH)
        assert d.endswith(b"\x00\x00\xff\xff")
        d = d[:-4]
        mask = os.urandom(4)
        n = len(d)
        hdr = bytes([0xC1])  # FIN, RSV1, text
        if n < 126:
            hdr += bytes([0x80 | n])
        elif n < 65536:
            hdr += bytes([0x80 | 126]) + n.to_bytes(2, "big")
        else:
            hdr += bytes([0x80 | 127]) + n.to_bytes(8, "big")
        self.w.write(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(d)))
        await self.w.drain()

    async def recv_frame(self):
        h = await asyncio.wait_for(self.r.readexactly(2), 20)
        n = h[1] & 0x7F
        if n == 126:
            n = int.from_bytes(await self.r.readexactly(2), "big")
        elif n == 127:
            n = int.from_bytes(await self.r.readexactly(8), "big")
        return h[0], await self.r.readexactly(n)

    def close(self):
        self.w.close()


def corpus(i, n=6000):
    # text with repeats far apart (> 512 bytes) and close together
    rnd = random.Random(1000 + i)
    block = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(700))
    return (block + words(n - 1400, i) + block).encode()


async def deflate_exchange(port, offer, client_keeps_context, inflate_bits, count=4):
    """Send `count` compressed text messages, inflate each echo with a window of
    `inflate_bits` (a fresh inflater per message when the server promised
    server_no_context_takeover). Returns (errors, response Offer)."""
    import zlib
    ws = RawWS()
    status, exts = await ws.open(port, offer)
    if not status.startswith("HTTP/1.1 101"):
        return [f"status {status}"], None
    r = ws.resp
    if r is None:
        ws.close()
        return [f"permessage-deflate declined (response {exts})"], None
    cbits = 15 if r.cmwb in (None, True) else r.cmwb
    comp = zlib.compressobj(6, zlib.DEFLATED, -max(cbits, 9))
    inf = zlib.decompressobj(-inflate_bits)
    errs = []
    try:
        for i in range(count):
            if not client_keeps_context or r.cnct:
                comp = zlib.compressobj(6, zlib.DEFLATED, -max(cbits, 9))
            msg = corpus(i)
            await ws.send_compressed(msg, comp)
            b0, payload = await ws.recv_frame()
            if b0 & 0x0F == 8:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                errs.append(f"message {i + 1}: wsx closed with {code} {payload[2:].decode('utf-8', 'replace')}")
                break
            if b0 & 0x40:
                if r.snct:
                    inf = zlib.decompressobj(-inflate_bits)
                try:
                    # small output steps, so that back-references must come
                    # from the inflater's window (its size is what we check)
                    echo, buf = b"", payload + b"\x00\x00\xff\xff"
                    while buf:
                        echo += inf.decompress(buf, 64)
                        buf = inf.unconsumed_tail
                except zlib.error as e:
                    errs.append(f"message {i + 1}: echo does not inflate with a {inflate_bits}-bit window "
                                f"(response {r}): {e}")
                    break
            else:
                echo = payload
            if echo != msg:
                errs.append(f"message {i + 1}: echo differs")
                break
    finally:
        ws.close()
    return errs, r


async def role_deflate_raw(srv, group):
    cases = [
        ("offer client_no_context_takeover, client keeps its context if the response lacks it",
         "permessage-deflate; client_no_context_takeover", True, 15),
        ("Autobahn 12.x offer, client keeps its context if the response lacks cnct",
         "permessage-deflate; client_no_context_takeover; client_max_window_bits", True, 15),
        ("server_no_context_takeover: each echo inflates on its own",
         "permessage-deflate; server_no_context_takeover", True, 15),
        ("server_max_window_bits=9: echoes inflate with a 9-bit window",
         "permessage-deflate; server_max_window_bits=9", True, 9),
        ("server_max_window_bits=10: echoes inflate with a 10-bit window",
         "permessage-deflate; server_max_window_bits=10", True, 10),
        ("server_max_window_bits=8 (if accepted): echoes inflate with an 8-bit window",
         "permessage-deflate; server_max_window_bits=8", True, 8),
        ("client_max_window_bits=9: client compresses with 9 bits",
         "permessage-deflate; client_max_window_bits=9", True, 15),
    ]
    for label, offer, keep, bits in cases:
        try:
            errs, r = await deflate_exchange(srv.port, offer, keep, bits)
        except Exception as e:
            errs, r = [f"{type(e).__name__}: {e}"], None
        if "server_max_window_bits=8" in offer and errs and errs[0].startswith("permessage-deflate declined"):
            errs = []  # declining 8 is allowed
        R.add(group, f"{label} [{offer} -> {r}]", not errs, "; ".join(errs))


async def role_probe():
    group = R.group("raw", "handshake probes -> wsx serve")
    try:
        async with Serve([]) as srv:
            for label, lines, want in PROBES:
                try:
                    status, accept_ok, exts = await probe(srv.port, lines)
                except Exception as e:
                    R.add(group, label, False, f"{type(e).__name__}: {e}")
                    continue
                if not status.startswith("HTTP/1.1 101"):
                    R.add(group, f"{label}: {lines}", False, f"status {status!r} (declining an offer is not an error)")
                    continue
                errs = [] if accept_ok else ["bad Sec-WebSocket-Accept"]
                try:
                    parsed = [(n, p) for n, p in parse_extensions(exts)]
                except ValueError as e:
                    errs.append(str(e))
                    parsed = []
                pmd = [p for n, p in parsed if n == "permessage-deflate"]
                if want is None and pmd:
                    errs.append(f"expected no extension, got {exts}")
                elif want == "8?":
                    if pmd and set(pmd[0]) != {("server_max_window_bits", "8")}:
                        errs.append(f"expected decline or server_max_window_bits=8, got {exts}")
                elif want == "first":
                    e2, _, idx = check_server_response(lines[0].split(", ") and [lines[0]], Policy(), exts)
                    errs += e2
                    if not pmd:
                        errs.append("declined")
                    elif idx not in (0,):
                        errs.append(f"accepted offer #{idx}, expected the first acceptable (#0) {exts}")
                elif want == "any-ok":
                    e2, _, _ = check_server_response(lines, Policy(), exts)
                    errs += e2
                    if not pmd:
                        errs.append("declined")
                elif isinstance(want, set):
                    if not pmd:
                        errs.append(f"expected permessage-deflate {sorted(want)}, got {exts}")
                    elif set(pmd[0]) != want:
                        # client_max_window_bits may be added only if offered; allow nothing else
                        errs.append(f"expected params {sorted(want)}, got {exts}")
                R.add(group, f"{label}: {lines}", not errs, "; ".join(errs))
            await role_deflate_raw(srv, group)
            # plain HTTP: GET / is the demo page, others a clear error
            r, w = await asyncio.open_connection("127.0.0.1", srv.port)
            w.write(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nConnection: close\r\n\r\n".encode())
            await w.drain()
            body = await asyncio.wait_for(r.read(), 10)
            w.close()
            ok = body.startswith(b"HTTP/1.1 200") and b"<html" in body.lower() and b"WebSocket" in body
            R.add(group, "plain GET / serves the demo page", ok, repr(body[:200]))
            r, w = await asyncio.open_connection("127.0.0.1", srv.port)
            w.write(f"GET /nope HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nConnection: close\r\n\r\n".encode())
            await w.drain()
            body = await asyncio.wait_for(r.read(), 10)
            w.close()
            ok = re.match(rb"HTTP/1\.1 [45]\d\d", body) is not None
            R.add(group, "plain GET /nope gets an HTTP error", ok, repr(body[:200]))
    except RuntimeError as e:
        R.add(group, "wsx serve start", False, str(e))


# ------------------------------------------------------------------ subprotocols
SUBPROTOCOL_SERVER = ["chat.v2", "chat.v1"]   # wsx serve --protocol, in preference order
SUBPROTOCOL_CASES = [
    # (offer in client order, expected answer)
    (["chat.v1", "chat.v2"], "chat.v2"),
    (["chat.v2", "chat.v1"], "chat.v2"),
    (["chat.v1"], "chat.v1"),
    (["other", "chat.v1"], "chat.v1"),
    (["Chat.V2", "CHAT.V1"], None),   # exact, case-sensitive match
    (["other"], None),
    ([], None),
]


async def raw_protocol_answer(port, lines):
    """Status and Sec-WebSocket-Protocol values of the answer to a raw upgrade
    request carrying these Sec-WebSocket-Protocol header lines."""
    r, w = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    req = (f"GET /echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
    for line in lines:
        req += f"Sec-WebSocket-Protocol: {line}\r\n"
    w.write((req + "\r\n").encode())
    await w.drain()
    head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 10)
    w.close()
    hl = head.decode("latin-1").split("\r\n")
    return hl[0], [x.split(":", 1)[1].strip() for x in hl[1:]
                   if x.lower().startswith("sec-websocket-protocol:")]


async def role_subprotocol():
    """Python websockets clients offering subprotocols to `wsx serve --protocol`:
    the server's most preferred offered protocol is selected, none (and no
    header) when nothing matches; invalid --protocol values stop wsx serve."""
    from websockets.asyncio.client import connect

    group = R.group("python", "subprotocols -> wsx serve --protocol")
    flags = [a for p in SUBPROTOCOL_SERVER for a in ("--protocol", p)]

    async def one(url, offer, want, name):
        try:
            kw = dict(subprotocols=offer) if offer else {}
            async with connect(url, proxy=None, open_timeout=20, close_timeout=10, **kw) as ws:
                hdr = ws.response.headers.get_all("Sec-WebSocket-Protocol")
                R.add(group, f"{name}: ws.subprotocol", ws.subprotocol == want,
                      f"got {ws.subprotocol!r}, expected {want!r}")
                R.add(group, f"{name}: response header", hdr == ([want] if want else []),
                      f"Sec-WebSocket-Protocol {hdr}, expected {[want] if want else []}")
                await ws.send("ping " + name)
                echo = await asyncio.wait_for(ws.recv(), 10)
                R.add(group, f"{name}: echo", echo == "ping " + name, f"echo {echo!r}")
        except Exception as e:
            R.add(group, f"{name}: connection", False, f"{type(e).__name__}: {e}")

    try:
        async with Serve(flags) as srv:
            for offer, want in SUBPROTOCOL_CASES:
                await one(srv.url, offer, want, f"[wsx serve {' '.join(flags)}] offer {offer or '(none)'}")
            for lines, want in [(["x, chat.v1", "chat.v2"], "chat.v2"),
                                (["chat.v1", "y"], "chat.v1"),
                                (["chat"], None)]:
                name = f"[wsx serve {' '.join(flags)}] raw header lines {lines}"
                try:
                    status, got = await raw_protocol_answer(srv.port, lines)
                    ok = status.startswith("HTTP/1.1 101") and got == ([want] if want else [])
                    R.add(group, name, ok, f"status {status!r}, Sec-WebSocket-Protocol {got}, expected {want!r}")
                except Exception as e:
                    R.add(group, name, False, f"{type(e).__name__}: {e}")
        async with Serve([]) as srv:
            await one(srv.url, ["chat.v1"], None, "[wsx serve (no --protocol)] offer ['chat.v1']")
    except RuntimeError as e:
        R.add(group, "wsx serve start", False, str(e))
    for bad in ["a b", "a,b", "\"q\"", ""]:
        proc = await asyncio.create_subprocess_exec(
            WSX, "serve", "--listen", "127.0.0.1:0", "--protocol", bad,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), 20)
        except asyncio.TimeoutError:
            proc.kill()
            out, err = await proc.communicate()
        ok = proc.returncode not in (0, None) and b"listening" not in out and b"not a valid subprotocol" in err
        R.add(group, f"wsx serve --protocol {bad!r} is refused at startup", ok,
              f"exit {proc.returncode}, stdout {out[:200]!r}, stderr {err[-300:]!r}")


# ------------------------------------------------------------------ main
async def main():
    global WSX, NODE_PEER, VERBOSE
    ap = argparse.ArgumentParser()
    ap.add_argument("--wsx", required=True)
    ap.add_argument("--peer", choices=["python", "node"], required=True)
    ap.add_argument("--node-peer", default=os.path.join(os.path.dirname(__file__), "ws_peer.js"))
    ap.add_argument("--only-role", choices=["serve", "client", "probe", "subprotocol"], action="append")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    WSX, NODE_PEER, VERBOSE = a.wsx, a.node_peer, a.verbose
    roles = a.only_role or (["probe", "subprotocol", "serve", "client"] if a.peer == "python"
                            else ["serve", "client"])
    for role in roles:
        t = time.time()
        if role == "probe":
            await role_probe()
        elif role == "subprotocol":
            if a.peer != "python":
                ap.error("--only-role subprotocol runs with --peer python")
            await role_subprotocol()
        elif role == "serve":
            await role_serve(a.peer)
        else:
            await role_client(a.peer)
        print(f"# {a.peer} {role}: {time.time() - t:.1f} s", flush=True)
    for (peer, role), (p, f) in R.groups.items():
        print(f"RESULT\t{peer}\t{role}\t{p}\t{f}")
    return 1 if R.failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
