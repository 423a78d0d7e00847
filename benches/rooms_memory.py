#!/usr/bin/env python3
"""Server memory per quiet broadcast room (issue 14: cohort hibernation).

    python3 benches/rooms_memory.py WSX [ROOMS]     # ROOMS default 300

Starts `WSX serve --broadcast` (its defaults: context takeover, cohorts,
--hibernate-after 1) on a free loopback port, opens ROOMS rooms with one
Python `websockets` member each, sends 5 chat messages in every room (each
delivered back to its sender, checked), then waits 4.5 s. Prints the
server's RSS growth per room (from /proc/PID/status VmRSS, against the
freshly started server) when busy and when quiet: a quiet room's member
connection hibernates, and so do its cohort's compressor (since the
change that added Broadcast::hibernate_if_idle). Needs `websockets`.
Loopback only; bounded by ROOMS and stops by itself.
"""

import asyncio
import re
import sys
import time

from websockets.asyncio.client import connect


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    return 0


async def main(wsx, rooms):
    p = await asyncio.create_subprocess_exec(
        wsx, "serve", "--broadcast", "--listen", "127.0.0.1:0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    line = await asyncio.wait_for(p.stdout.readline(), 30)
    port = int(re.search(rb":(\d+)\s*$", line.strip()).group(1))
    time.sleep(0.5)
    base = rss_kib(p.pid)
    conns = [await connect(f"ws://127.0.0.1:{port}/chat/room{r}") for r in range(rooms)]
    for i in range(5):
        sent = []
        for r, ws in enumerate(conns):
            m = '{"room":%d,"seq":%d,"user":"ada","text":"%s"}' % (
                r, i, "hello everyone, the build is green " * (3 + i))
            await ws.send(m)
            sent.append(m)
        for ws, m in zip(conns, sent):
            got = await asyncio.wait_for(ws.recv(), 10)
            assert got == m, "the room sent back something else"
    busy = rss_kib(p.pid)
    await asyncio.sleep(4.5)
    quiet = rss_kib(p.pid)
    print(f"{wsx}: {rooms} rooms of 1 member: busy +{(busy - base) / rooms:.1f} KiB/room, "
          f"quiet 4.5 s +{(quiet - base) / rooms:.1f} KiB/room (server RSS {base} KiB at start)")
    for ws in conns:
        await ws.close()
    p.terminate()
    await p.wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 300))
