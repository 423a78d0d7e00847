"""Python `websockets` broadcast server (the peer of benches/broadcast.sh),
the counterpart of `wsx serve --broadcast`: every text or binary message
received on a path is sent, unchanged and with its kind, to every open
connection on that path, the sender included, with
`websockets.asyncio.server.broadcast()` (which writes to each connection
without waiting: it compresses for each connection, there is no shared
encoding).

    python broadcast_websockets.py [PORT]

Compression: websockets' default (`compression="deflate"`:
server_max_window_bits=12, client_max_window_bits=12, memLevel 5, zlib's
default level, context takeover). Prints `listening on ws://127.0.0.1:PORT`
once bound; exits on SIGTERM/SIGINT.
"""

import asyncio
import signal
import sys

from websockets.asyncio.server import broadcast, serve

ROOMS = {}


async def member(ws):
    path = ws.request.path
    room = ROOMS.setdefault(path, set())
    room.add(ws)
    try:
        # A text message arrives as str, a binary one as bytes: broadcast()
        # sends each with its kind.
        async for msg in ws:
            broadcast(room, msg)
    except Exception:
        pass
    finally:
        room.discard(ws)
        if not room and ROOMS.get(path) is room:
            del ROOMS[path]


async def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(member, "127.0.0.1", port, compression="deflate", max_size=None) as server:
        bound = server.sockets[0].getsockname()[1]
        print(f"listening on ws://127.0.0.1:{bound}", flush=True)
        await stop


if __name__ == "__main__":
    asyncio.run(main())
