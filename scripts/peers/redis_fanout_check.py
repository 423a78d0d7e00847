#!/usr/bin/env python3
"""Rooms across wsx processes through Redis pub/sub, for conformance.sh.

Two `redis_fanout` example processes (integration/examples/redis_fanout.rs)
share one redis-server; conformance.sh starts them and runs this.

    redis_fanout_check.py room --a ws://127.0.0.1:PA --b ws://127.0.0.1:PB
        [--receivers 3] [--messages 150] [--window 24] [--seed 1] [--label L]

Connects RECEIVERS clients and one sender to each process on the same room
path, plus one client on a second room path on each. Both senders send
MESSAGES text and binary messages of varied sizes (empty, 1 byte, around
the 125/126 and 65535/65536 length boundaries, up to 150 KB; non-ASCII
text; compressible and random binary), never more than WINDOW ahead of the
slowest client (the test is about delivery, not about overflowing queues).
Checks, on every client of the room on both processes (the senders are
members too): permessage-deflate negotiated with server_no_context_takeover;
every message of both senders received exactly once, byte-exact, with its
type, each sender's in its order (the received sequence is an interleaving
of the two sent sequences); and all clients saw the same order (Redis orders
a channel). The second room's clients must receive nothing of the first
room, and their own room's message across the processes.

    redis_fanout_check.py across --a URL --b URL [--label L]

A few messages each way between one client on each process (after a Redis
restart: both processes must have reconnected).

    redis_fanout_check.py stats --log A.out --expect-published N
        --expect-delivered N [--label L]

Checks a process's `stats:` line (printed when it stops): nothing lost or
dropped, every delivery used the frame shared by the process, and no message
was encoded more than once (max_encodings=1: compressed once per process).

Prints PASS/FAIL lines, then `RESULT<TAB>redis<TAB>label<TAB>passed<TAB>failed`.
"""

import argparse
import asyncio
import random
import re
import sys

from websockets.asyncio.client import connect

MAX_SIZE = 1 << 22
ROOM = "/chat/fanout"
OTHER = "/chat/other"


class Results:
    def __init__(self, label):
        self.label = label
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"PASS {name}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {name}: {detail}", flush=True)

    def finish(self):
        print(f"RESULT\tredis\t{self.label}\t{self.passed}\t{self.failed}", flush=True)
        return 0 if self.failed == 0 and self.passed > 0 else 1


TEXT_CHUNKS = [
    '{"type":"message","room":"fanout","user":"ana","text":"the quick brown fox"} ',
    "κόσμε ☃ naïve café 日本語のテキスト 🎉🚀 ",
    "plain ascii words again and again ",
]
SIZES = [0, 1, 2, 17, 125, 126, 127, 1000, 4096, 65535, 65536, 70000, 150000]


def make_messages(sender, count, seed):
    """`count` (is_text, payload) pairs; text payloads are str."""
    rng = random.Random(f"{seed}-{sender}")
    out = []
    for i in range(count):
        size = SIZES[i % len(SIZES)] if i < 3 * len(SIZES) else rng.choice(
            [0, 1, rng.randrange(2, 300), rng.randrange(300, 8000), rng.randrange(8000, 100000)]
        )
        if rng.random() < 0.5:
            chunk = TEXT_CHUNKS[rng.randrange(len(TEXT_CHUNKS))]
            text = f"{sender}{i}:" + chunk * (size // len(chunk) + 1)
            # `size` characters (more bytes when non-ASCII); 0 and 1 exactly.
            out.append((True, text[:size]))
        elif rng.random() < 0.5:
            out.append((False, rng.randbytes(size)))
        else:
            unit = f"{sender}:{i}:".encode() + bytes(range(16))
            out.append((False, (unit * (size // len(unit) + 1))[:size]))
    return out


def kind(m):
    return "text" if isinstance(m, str) else "binary"


def is_interleaving(got, a, b):
    """Whether `got` is `a` and `b` merged, each in its own order."""
    if len(got) != len(a) + len(b):
        return False
    # reach[j]: the first i+j received can be a[:i] + b[:j] (for this i).
    reach = [True] + [False] * len(b)
    for j in range(1, len(b) + 1):
        reach[j] = reach[j - 1] and got[j - 1] == b[j - 1]
    for i in range(1, len(a) + 1):
        reach[0] = reach[0] and got[i - 1] == a[i - 1]
        for j in range(1, len(b) + 1):
            reach[j] = (reach[j] and got[i + j - 1] == a[i - 1]) or (
                reach[j - 1] and got[i + j - 1] == b[j - 1]
            )
    return reach[len(b)]


def describe(m):
    return f"{kind(m)} of {len(m)} {'chars' if isinstance(m, str) else 'bytes'}: {m[:40]!r}"


def negotiated(ws):
    ext = ws.response.headers.get("Sec-WebSocket-Extensions", "") or ""
    return ("permessage-deflate" in ext and "server_no_context_takeover" in ext), ext


async def run_room(args, res):
    total_each = args.messages
    a_msgs = [m for _, m in make_messages("A", total_each, args.seed)]
    b_msgs = [m for _, m in make_messages("B", total_each, args.seed)]
    want = 2 * total_each

    conns = {}  # name -> ws
    for proc, base in (("A", args.a), ("B", args.b)):
        for r in range(args.receivers):
            conns[f"{proc}/receiver{r}"] = await connect(base + ROOM, max_size=MAX_SIZE)
        conns[f"{proc}/sender"] = await connect(base + ROOM, max_size=MAX_SIZE)
    others = {
        proc: await connect(base + OTHER, max_size=MAX_SIZE) for proc, base in (("A", args.a), ("B", args.b))
    }
    for name, ws in list(conns.items()) + [(f"{p}/other-room", ws) for p, ws in others.items()]:
        ok, ext = negotiated(ws)
        res.check(f"{name}: permessage-deflate with server_no_context_takeover", ok, f"got {ext!r}")

    got = {name: [] for name in conns}
    other_got = {p: [] for p in others}
    cond = asyncio.Condition()
    sent = [0]

    async def reader(name, ws):
        try:
            while len(got[name]) < want:
                m = await ws.recv()
                got[name].append(m)
                async with cond:
                    cond.notify_all()
        except Exception as e:
            raise RuntimeError(f"{name}: receive failed after {len(got[name])} messages: {e!r}") from e

    async def other_reader(p, ws):
        try:
            async for m in ws:
                other_got[p].append(m)
        except Exception:  # noqa: BLE001 - closed at the end
            pass

    def slowest():
        return min(len(v) for v in got.values())

    async def sender(ws, msgs):
        for m in msgs:
            async with cond:
                await cond.wait_for(lambda: sent[0] - slowest() < args.window)
            sent[0] += 1
            await ws.send(m)

    readers = [asyncio.create_task(reader(n, ws)) for n, ws in conns.items()]
    other_tasks = [asyncio.create_task(other_reader(p, ws)) for p, ws in others.items()]
    try:
        await asyncio.wait_for(
            asyncio.gather(sender(conns["A/sender"], a_msgs), sender(conns["B/sender"], b_msgs), *readers),
            timeout=args.timeout,
        )
    except asyncio.TimeoutError:
        print(f"timed out after {args.timeout} s: sent {sent[0]}, slowest client has {slowest()}", flush=True)
    except Exception as e:  # noqa: BLE001 - the checks below fail
        print(f"stopped: {e}", flush=True)

    for name, seq in got.items():
        ok = is_interleaving(seq, a_msgs, b_msgs)
        detail = ""
        if not ok:
            detail = f"received {len(seq)} of {want}"
            # The first message that is the next of neither sender (greedy).
            i = j = 0
            for n, m in enumerate(seq):
                if i < len(a_msgs) and m == a_msgs[i]:
                    i += 1
                elif j < len(b_msgs) and m == b_msgs[j]:
                    j += 1
                else:
                    nxt = [describe(x) for x in (a_msgs[i:i + 1] + b_msgs[j:j + 1])]
                    detail += f"; message {n} ({describe(m)}) is neither sender's next ({nxt})"
                    break
        res.check(f"{name}: all {want} messages of both processes' senders, byte-exact, typed, in order", ok, detail)
    first = next(iter(got))
    same = [n for n, seq in got.items() if seq != got[first]]
    res.check("every client on both processes saw one order", not same, f"differ from {first}: {same}")

    # The second room: its own message, across processes, and nothing else.
    marker = "other room: κόσμε"
    await others["A"].send(marker)
    for _ in range(100):
        if all(other_got.values()):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    for p, seq in other_got.items():
        res.check(
            f"{p}/other-room: only its own room's message ({len(seq)} received)",
            seq == [marker],
            f"got {[describe(m) for m in seq[:3]]}",
        )

    for ws in list(conns.values()) + list(others.values()):
        try:
            await asyncio.wait_for(ws.close(), 5)
        except Exception:  # noqa: BLE001 - closing is best effort
            pass
    for t in readers + other_tasks:
        t.cancel()


async def run_across(args, res):
    """One client on each process: messages each way."""
    a = await connect(args.a + ROOM, max_size=MAX_SIZE)
    b = await connect(args.b + ROOM, max_size=MAX_SIZE)
    msgs = [("from A", a), (b"\x00from B\xff", b), ("κόσμε from A " * 500, a), (b"", b)]
    for m, ws in msgs:
        await ws.send(m)
        for name, peer in (("A", a), ("B", b)):
            try:
                r = await asyncio.wait_for(peer.recv(), 10)
            except Exception as e:  # noqa: BLE001 - reported
                r = e
            res.check(f"{describe(m)} reaches the client on {name}", r == m, f"got {r!r:.80}")
    for ws in (a, b):
        await ws.close()


def run_stats(args):
    res = Results(args.label)
    try:
        text = open(args.log, encoding="utf-8").read()
    except OSError as e:
        text = ""
        print(f"cannot read {args.log}: {e}")
    m = re.search(r"^stats: (.*)$", text, re.M)
    if not m:
        res.check(f"{args.log}: a stats line", False, "none (did the process stop by SIGTERM?)")
        return res.finish()
    s = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}
    print(m.group(0))
    want = {
        "published": args.expect_published,
        "publish_lost": 0,
        "rejected": 0,
        "dropped": 0,
        "delivered": args.expect_delivered,
        "shared": args.expect_delivered,
        "max_encodings": 1,
    }
    bad = {k: (s.get(k), v) for k, v in want.items() if s.get(k) != v}
    res.check(
        f"{args.log}: every delivery shared, each message compressed once, nothing lost",
        not bad,
        ", ".join(f"{k}={g} (want {w})" for k, (g, w) in bad.items()),
    )
    return res.finish()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    room = sub.add_parser("room")
    room.add_argument("--a", required=True)
    room.add_argument("--b", required=True)
    room.add_argument("--receivers", type=int, default=3)
    room.add_argument("--messages", type=int, default=150)
    room.add_argument("--window", type=int, default=24)
    room.add_argument("--seed", default="1")
    room.add_argument("--timeout", type=float, default=120)
    room.add_argument("--label", default="one room across two processes")
    across = sub.add_parser("across")
    across.add_argument("--a", required=True)
    across.add_argument("--b", required=True)
    across.add_argument("--label", default="across processes")
    stats = sub.add_parser("stats")
    stats.add_argument("--log", required=True)
    stats.add_argument("--expect-published", type=int, required=True)
    stats.add_argument("--expect-delivered", type=int, required=True)
    stats.add_argument("--label", default="stats")
    args = ap.parse_args()
    if args.cmd == "stats":
        return run_stats(args)
    res = Results(args.label)
    run = run_room if args.cmd == "room" else run_across
    try:
        asyncio.run(run(args, res))
    except Exception as e:  # noqa: BLE001 - a crash is a failure, with its RESULT line
        res.check(f"{args.cmd} check ran to the end", False, repr(e))
    return res.finish()


if __name__ == "__main__":
    sys.exit(main())
