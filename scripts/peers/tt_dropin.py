#!/usr/bin/env python3
"""wsx-tokio-tungstenite against real peers: programs written for
tokio-tungstenite, built against wsx-tokio-tungstenite by dependency rename,
must negotiate permessage-deflate with Python `websockets` and Node `ws` at
their default settings.

    tt_dropin.py --peer python|node [--echo-server BIN] [--client BIN]
                 [--upstream-echo-server BIN] [--upstream-chat-server BIN]
                 [--node-peer ws_peer.js]

BIN are the examples of integration/tokio-tungstenite (`cargo build
--release -p wsx-tokio-tungstenite --examples`: target/release/examples/
echo-server and client).

Role "tokio-tungstenite echo-server <- client": the peer's client, with its
default permessage-deflate offer, sends interop.py's message suite to the
echo-server example; each echo must be byte-exact, the response must carry
permessage-deflate, the close must be clean (1000).
Role "tokio-tungstenite client -> server": the client example reads lines on
stdin and sends them to the peer's echo server (default deflate settings);
stdout must give the lines back exactly, its stderr must report the
negotiated permessage-deflate, the peer must have answered it.

Roles "tokio-tungstenite 0.30 example echo-server|server (renamed dependency)
<- client": tokio-tungstenite's own examples, their sources unchanged, built
with only `tokio-tungstenite = { package = "wsx-tokio-tungstenite" }` in
their Cargo.toml (tt_dropin.sh builds them). The echo server as above
(without the server-side report); the chat server with two peer clients:
each message of one reaches the other byte-exact, both negotiate
permessage-deflate.

Prints PASS/FAIL lines, then `RESULT<TAB>peer<TAB>role<TAB>passed<TAB>failed`
lines. Exit status 1 on any failure. A missing tool is a failure, never a
skip.
"""
import argparse
import asyncio
import json
import os
import random
import sys

os.environ.setdefault("WEBSOCKETS_MAX_FRAGMENTS", "1000000")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from interop import SUITE, fragments, make_message  # noqa: E402

SERVER_ROLE = "tokio-tungstenite echo-server (wsx-tokio-tungstenite) <- client"
CLIENT_ROLE = "tokio-tungstenite client (wsx-tokio-tungstenite) -> server"


class Results:
    def __init__(self):
        self.groups = {}
        self.failed = False

    def group(self, peer, role):
        self.groups.setdefault((peer, role), [0, 0])
        return (peer, role)

    def add(self, group, name, ok, detail=""):
        p, f = self.groups.setdefault(group, [0, 0])
        self.groups[group] = [p + 1, f] if ok else [p, f + 1]
        if not ok:
            self.failed = True
        print(f"{'PASS' if ok else 'FAIL'} {group[0]} | {group[1]} | {name}"
              + ("" if ok or not detail else f": {detail}"), flush=True)


R = Results()


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class UpstreamExample:
    """One of tokio-tungstenite's examples, given its address as argument;
    it prints nothing (it logs through env_logger), so wait until it
    accepts connections."""

    def __init__(self, binary):
        self.binary = binary

    async def __aenter__(self):
        port = free_port()
        self.proc = await asyncio.create_subprocess_exec(
            self.binary, f"127.0.0.1:{port}",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        for _ in range(300):
            try:
                _, w = await asyncio.open_connection("127.0.0.1", port)
                w.close()
                break
            except OSError:
                await asyncio.sleep(0.1)
        self.url = f"ws://127.0.0.1:{port}/"
        return self

    async def extensions(self):
        return None

    async def __aexit__(self, *exc):
        self.proc.terminate()
        await self.proc.wait()


class EchoServerExample:
    """The echo-server example on 127.0.0.1:0."""

    def __init__(self, binary):
        self.binary = binary

    async def __aenter__(self):
        self.proc = await asyncio.create_subprocess_exec(
            self.binary, "127.0.0.1:0",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        line = (await asyncio.wait_for(self.proc.stdout.readline(), 30)).decode()
        if not line.startswith("Listening on: "):
            raise RuntimeError(f"echo-server printed {line!r}")
        self.url = line.split(": ", 1)[1].strip() + "/"
        return self

    async def extensions(self):
        """The extensions line printed for the next connection."""
        line = await asyncio.wait_for(self.proc.stdout.readline(), 10)
        return line.decode().strip().removeprefix("extensions: ")

    async def __aexit__(self, *exc):
        self.proc.terminate()
        await self.proc.wait()


def check_suite_echo(group, label, sent, echoed):
    for m, data, echo in zip(SUITE, sent, echoed):
        ok = type(echo) is type(data) and echo == data
        R.add(group, f"{label} / {m['name']}", ok,
              "" if ok else f"sent {type(data).__name__} {len(data)}, "
                            f"got {type(echo).__name__} {len(echo)}")
    if len(echoed) < len(sent):
        R.add(group, f"{label} / all echoed", False, f"{len(echoed)} of {len(sent)}")


async def role_server(peer, binary, node_peer, role=SERVER_ROLE, upstream=False):
    group = R.group(peer, role)
    try:
        async with (UpstreamExample(binary) if upstream else EchoServerExample(binary)) as srv:
            if peer == "python":
                from websockets.asyncio.client import connect
                sent, echoed = [], []
                async with connect(srv.url, max_size=None, proxy=None, open_timeout=20,
                                   close_timeout=10) as ws:
                    resp = ws.response.headers.get("Sec-WebSocket-Extensions") or ""
                    for m in SUITE:
                        data = make_message(m)
                        sent.append(data)
                        if m.get("frags"):
                            await ws.send(list(fragments(data, m["frags"])))
                        else:
                            await ws.send(data)
                        echoed.append(await asyncio.wait_for(ws.recv(), 60))
                    await ws.close()
                    code = ws.close_code
                check_suite_echo(group, "websockets client", sent, echoed)
            else:
                proc = await asyncio.create_subprocess_exec(
                    "node", node_peer, "client", srv.url, json.dumps({}), json.dumps(SUITE),
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
                out, err = await asyncio.wait_for(proc.communicate(), 180)
                resp, code, seen = "", None, set()
                for line in out.decode().splitlines():
                    ev = json.loads(line)
                    if "open" in ev:
                        resp = ev["open"]["extensions"] or ""
                    elif "msg" in ev:
                        seen.add(ev["msg"])
                        R.add(group, f"ws client / {ev['msg']}", ev["ok"], ev.get("detail") or "")
                    elif "close" in ev:
                        code = ev["close"]
                missing = [m["name"] for m in SUITE if m["name"] not in seen]
                if missing:
                    R.add(group, "ws client / all echoed", False,
                          f"{len(missing)} never echoed; stderr {err.decode()[-300:]}")
            R.add(group, "response negotiates permessage-deflate",
                  resp.startswith("permessage-deflate"), f"Sec-WebSocket-Extensions: {resp!r}")
            printed = await srv.extensions()
            if printed is not None:
                R.add(group, "server reports permessage-deflate",
                      printed.startswith("permessage-deflate"), printed)
            R.add(group, "clean close", code == 1000, f"close code {code}")
    except Exception as e:
        R.add(group, "run", False, f"{type(e).__name__}: {e}")


async def role_chat(peer, binary, node_peer):
    """tokio-tungstenite's chat example: what one client sends, the other
    receives. Python clients drive it (a Node client only adds the same
    check); `peer` names the RESULT line."""
    group = R.group(peer, "tokio-tungstenite 0.30 example server (chat; renamed dependency) <- clients")
    from websockets.asyncio.client import connect
    try:
        async with UpstreamExample(binary) as srv:
            async with connect(srv.url, max_size=None, proxy=None) as a, \
                    connect(srv.url, max_size=None, proxy=None) as b:
                for ws, name in ((a, "a"), (b, "b")):
                    e = ws.response.headers.get("Sec-WebSocket-Extensions") or ""
                    R.add(group, f"client {name} negotiates permessage-deflate",
                          e.startswith("permessage-deflate"), repr(e))
                await asyncio.sleep(0.3)  # both registered with the server
                for m in SUITE[:12]:
                    data = make_message(m)
                    await a.send(data)
                    got = await asyncio.wait_for(b.recv(), 30)
                    R.add(group, f"a -> b / {m['name']}", got == data and type(got) is type(data))
                data = "back the other way " * 100
                await b.send(data)
                R.add(group, "b -> a", await asyncio.wait_for(a.recv(), 30) == data)
    except Exception as e:
        R.add(group, "run", False, f"{type(e).__name__}: {e}")


def client_lines():
    rnd = random.Random(13)
    lines = ["hello", "", "héllo wörld ✓ 😀", "the same words again " * 2000]
    lines += [" ".join(rnd.choice(["alpha", "beta", "gamma", "deflate"]) for _ in range(n))
              for n in (1, 10, 100, 10000)]
    return lines


async def role_client(peer, binary, node_peer):
    group = R.group(peer, CLIENT_ROLE)
    lines = client_lines()
    try:
        if peer == "python":
            from websockets.asyncio.server import serve
            answered = []

            async def echo(ws):
                answered.append(ws.response.headers.get("Sec-WebSocket-Extensions") or "")
                async for msg in ws:
                    await ws.send(msg)

            async with serve(echo, "127.0.0.1", 0, max_size=None) as server:
                port = server.sockets[0].getsockname()[1]
                out, err, rc = await run_client(binary, f"ws://127.0.0.1:{port}/", lines)
            resp = answered[0] if answered else ""
        else:
            proc = await asyncio.create_subprocess_exec(
                "node", node_peer, "server", json.dumps({}),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            port = json.loads(await asyncio.wait_for(proc.stdout.readline(), 30))["port"]
            out, err, rc = await run_client(binary, f"ws://127.0.0.1:{port}/", lines)
            resp = ""
            line = await asyncio.wait_for(proc.stdout.readline(), 10)
            ev = json.loads(line) if line else {}
            resp = ev.get("response") or ""
            proc.terminate()
            await proc.wait()
        got = out.decode().split("\n")
        got = got[:-1] if got and got[-1] == "" else got
        R.add(group, "exit status 0", rc == 0, err.decode()[-300:])
        R.add(group, "lines echoed exactly", got == lines,
              f"sent {len(lines)} lines, got {len(got)}")
        R.add(group, "peer answered permessage-deflate",
              resp.startswith("permessage-deflate"), repr(resp))
        R.add(group, "client reports permessage-deflate",
              "extensions: permessage-deflate" in err.decode(), err.decode()[-300:])
    except Exception as e:
        R.add(group, "run", False, f"{type(e).__name__}: {e}")


async def run_client(binary, url, lines):
    """Run the line client: write every line, and end stdin (which makes it
    close) only once every echo is on its stdout. RFC 6455 lets a peer
    answer a Close at once, and Python websockets then drops the echoes it
    has not sent yet, so "close right after the last line" cannot promise
    every echo (the same rule as interop.py's run_wsx_client)."""
    proc = await asyncio.create_subprocess_exec(
        binary, url, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        limit=1 << 24)  # lines of up to ~65 KB
    data = "".join(line + "\n" for line in lines).encode()
    err_task = asyncio.ensure_future(proc.stderr.read())
    proc.stdin.write(data)
    await proc.stdin.drain()
    out = b""
    try:
        for _ in lines:
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            if not line:
                break
            out += line
    except asyncio.TimeoutError:
        pass
    proc.stdin.close()
    try:
        out += await asyncio.wait_for(proc.stdout.read(), 30)
        await asyncio.wait_for(proc.wait(), 30)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
    err = await err_task
    return out, err, proc.returncode


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--echo-server")
    ap.add_argument("--client")
    ap.add_argument("--upstream-echo-server")
    ap.add_argument("--upstream-chat-server")
    ap.add_argument("--peer", choices=["python", "node"], required=True)
    ap.add_argument("--node-peer", default=os.path.join(os.path.dirname(__file__), "ws_peer.js"))
    a = ap.parse_args()
    if a.echo_server:
        await role_server(a.peer, a.echo_server, a.node_peer)
    if a.client:
        await role_client(a.peer, a.client, a.node_peer)
    if a.upstream_echo_server:
        await role_server(a.peer, a.upstream_echo_server, a.node_peer, upstream=True,
                          role="tokio-tungstenite 0.30 example echo-server "
                               "(renamed dependency) <- client")
    if a.upstream_chat_server and a.peer == "python":
        await role_chat(a.peer, a.upstream_chat_server, a.node_peer)
    for (peer, role), (p, f) in R.groups.items():
        print(f"RESULT\t{peer}\t{role}\t{p}\t{f}")
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
