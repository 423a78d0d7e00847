#!/usr/bin/env python3
"""A stand-in for the `wsx` command, written on Python `websockets`.

It implements the command contract of DESIGN.md ("The `wsx` command:
contract") closely enough to develop and validate scripts/conformance.sh
before the real binary exists:

    WSX_BIN=scripts/peers/standin_wsx.sh scripts/conformance.sh --only python

Sub-commands: serve, client, autobahn-client. Not a product: no TLS, no mux.
"""
import argparse
import asyncio
import os
import sys
import threading

os.environ.setdefault("WEBSOCKETS_MAX_FRAGMENTS", "1000000")

from websockets.asyncio.client import connect  # noqa: E402
from websockets.asyncio.server import serve  # noqa: E402
from websockets.datastructures import Headers  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402
from websockets.extensions.permessage_deflate import (  # noqa: E402
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)
from websockets.http11 import Response  # noqa: E402

DEMO = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>wsx stand-in demo</title></head>
<body>
<h1>wsx echo demo</h1>
<div>extensions: <span id="ext">(connecting)</span></div>
<form id="f"><input id="msg" type="text" autofocus><button type="submit">Send</button></form>
<pre id="log"></pre>
<script>
const ws = new WebSocket(location.href.replace(/^http/, "ws") + "echo");
const log = (s) => { document.getElementById("log").textContent += s + "\\n"; };
ws.onopen = () => { document.getElementById("ext").textContent = ws.extensions || "(none)"; };
ws.onmessage = (e) => log("< " + e.data);
document.getElementById("f").onsubmit = (e) => {
  e.preventDefault();
  const m = document.getElementById("msg");
  ws.send(m.value); log("> " + m.value); m.value = "";
};
</script>
</body></html>
"""


def deflate_args(p):
    p.add_argument("--no-deflate", action="store_true")
    p.add_argument("--deflate-level", type=int)
    p.add_argument("--server-max-window-bits", type=int)
    p.add_argument("--client-max-window-bits", type=int)
    p.add_argument("--server-no-context-takeover", action="store_true")
    p.add_argument("--client-no-context-takeover", action="store_true")
    p.add_argument("--compress-threshold", type=int)
    p.add_argument("--mux", action="store_true")


async def cmd_serve(a):
    host, _, port = a.listen.rpartition(":")
    if a.no_deflate:
        exts = []
    else:
        exts = [
            ServerPerMessageDeflateFactory(
                server_no_context_takeover=a.server_no_context_takeover,
                client_no_context_takeover=a.client_no_context_takeover,
                server_max_window_bits=a.server_max_window_bits,
                client_max_window_bits=a.client_max_window_bits,
                compress_settings={"memLevel": 5}
                if a.deflate_level is None
                else {"memLevel": 5, "level": a.deflate_level},
            )
        ]

    async def echo(ws):
        try:
            async for m in ws:
                await ws.send(m)
        except ConnectionClosed:
            pass

    def process_request(conn, request):
        if "upgrade" not in request.headers.get("Connection", "").lower():
            if request.path == "/":
                return Response(
                    200,
                    "OK",
                    Headers([("Content-Type", "text/html; charset=utf-8"),
                             ("Content-Length", str(len(DEMO)))]),
                    DEMO,
                )
            return conn.respond(404, "not a WebSocket request\n")
        return None

    def select_subprotocol(conn, offered):
        # wsx's rule: the server's most preferred offered protocol, else none.
        return next((p for p in a.protocol or [] if p in offered), None)

    async with serve(
        echo, host, int(port), compression=None, extensions=exts,
        max_size=a.max_message_size, process_request=process_request,
        select_subprotocol=select_subprotocol,
    ) as server:
        sock = next(iter(server.sockets))
        ip, real_port = sock.getsockname()[:2]
        print(f"listening on ws://{ip}:{real_port}", flush=True)
        await asyncio.Future()


def client_factory(a):
    if a.no_deflate:
        return None
    return [
        ClientPerMessageDeflateFactory(
            server_no_context_takeover=a.server_no_context_takeover,
            client_no_context_takeover=a.client_no_context_takeover,
            server_max_window_bits=a.server_max_window_bits,
            client_max_window_bits=a.client_max_window_bits or True,
        )
    ]


async def cmd_client(a):
    loop = asyncio.get_running_loop()
    lines = asyncio.Queue()

    def reader():
        for line in sys.stdin.buffer:
            loop.call_soon_threadsafe(lines.put_nowait, line.rstrip(b"\n").decode())
        loop.call_soon_threadsafe(lines.put_nowait, None)

    async with connect(a.url, compression=None, extensions=client_factory(a),
                       max_size=None, proxy=None,
                       subprotocols=a.protocol or None) as ws:
        ext = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        print(f"protocol: {ws.subprotocol or '(none)'}", file=sys.stderr)
        print(f"extensions: {ext or '(none)'}", file=sys.stderr, flush=True)
        threading.Thread(target=reader, daemon=True).start()

        sent = 0
        got = 0
        done = asyncio.Event()

        async def printer():
            nonlocal got
            async for m in ws:
                got += 1
                if isinstance(m, bytes):
                    m = m.decode("utf-8", "replace")
                sys.stdout.write(m + "\n")
                sys.stdout.flush()
                if stdin_done and got >= sent:
                    done.set()

        stdin_done = False
        ptask = asyncio.create_task(printer())
        while True:
            line = await lines.get()
            if line is None:
                break
            sent += 1
            await ws.send(line)
        stdin_done = True
        if got < sent:  # this stand-in waits for the echoes, then closes
            try:
                await asyncio.wait_for(done.wait(), 30)
            except asyncio.TimeoutError:
                pass
        await ws.close()
        await ptask


async def cmd_autobahn(a):
    url = a.url.rstrip("/")
    kw = dict(compression="deflate", max_size=None, proxy=None)
    async with connect(url + "/getCaseCount", **kw) as ws:
        count = int(await ws.recv())
    for n in range(1, count + 1):
        try:
            async with connect(f"{url}/runCase?case={n}&agent={a.agent}", **kw) as ws:
                async for m in ws:
                    await ws.send(m)
        except Exception as e:  # the fuzzer does nasty things; keep going
            print(f"case {n}: {type(e).__name__}: {e}", file=sys.stderr)
    async with connect(f"{url}/updateReports?agent={a.agent}", **kw) as ws:
        try:
            await ws.recv()
        except ConnectionClosed:
            pass


def main():
    ap = argparse.ArgumentParser(prog="standin-wsx")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--listen", default="127.0.0.1:9998")
    s.add_argument("--max-message-size", type=int, default=64 << 20)
    s.add_argument("--protocol", action="append")
    deflate_args(s)
    c = sub.add_parser("client")
    c.add_argument("url")
    c.add_argument("--protocol", action="append")
    deflate_args(c)
    b = sub.add_parser("autobahn-client")
    b.add_argument("--url", default="ws://127.0.0.1:9001")
    b.add_argument("--agent", default="wsx")
    a = ap.parse_args()
    if getattr(a, "mux", False):
        sys.exit("standin-wsx: --mux is not implemented by the stand-in")
    fn = {"serve": cmd_serve, "client": cmd_client, "autobahn-client": cmd_autobahn}[a.cmd]
    try:
        asyncio.run(fn(a))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
