"""Python `websockets` echo server with permessage-deflate (the peer of
benches/side-by-side.sh).

Prints `listening on ws://127.0.0.1:PORT` once bound; echoes text as text
and binary as binary; exits on SIGTERM/SIGINT. Compression: websockets'
default (`compression="deflate"`: server_max_window_bits=12,
client_max_window_bits=12, memLevel 5, zlib's default level).
"""

import asyncio
import signal
import sys

from websockets.asyncio.server import serve


async def echo(ws):
    try:
        async for msg in ws:
            await ws.send(msg)
    except Exception:
        pass


async def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(echo, "127.0.0.1", port, compression="deflate", max_size=None) as server:
        bound = server.sockets[0].getsockname()[1]
        print(f"listening on ws://127.0.0.1:{bound}", flush=True)
        await stop


if __name__ == "__main__":
    asyncio.run(main())
