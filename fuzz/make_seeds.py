#!/usr/bin/env python3
"""Write the seed corpora under fuzz/seeds/<target>/ (committed; rerun after
changing a seed). Each seed is a valid or nearly valid input, so the
fuzzer starts deep inside each parser instead of at its first check."""
import os, struct, zlib

HERE = os.path.dirname(os.path.abspath(__file__))
seeds = {}

def add(target, name, data):
    seeds.setdefault(target, []).append((name, data))

def frame(opcode, payload, fin=True, rsv=0, mask=None):
    b0 = (0x80 if fin else 0) | rsv | opcode
    n = len(payload)
    mbit = 0x80 if mask is not None else 0
    if n < 126:
        h = bytes([b0, mbit | n])
    elif n < 65536:
        h = bytes([b0, mbit | 126]) + struct.pack(">H", n)
    else:
        h = bytes([b0, mbit | 127]) + struct.pack(">Q", n)
    if mask is not None:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        h += bytes(mask)
    return h + payload

def deflate(data):
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]

M = [0x37, 0xfa, 0x21, 0x3d]
HELLO_PMD = deflate(b"Hello")

# ---- ext_header
for i, h in enumerate([
    b"permessage-deflate",
    b"permessage-deflate; client_max_window_bits",
    b"permessage-deflate; server_max_window_bits=10; client_max_window_bits=\"9\"; server_no_context_takeover",
    b"permessage-deflate; client_no_context_takeover, permessage-deflate\nx-foo; a=b",
    b", , foo ;bar = \"baz\" ,",
    b"mux; quota=8192, permessage-deflate",
]):
    add("ext_header", f"h{i}", h)

# ---- handshake_request
req = (b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
       b"Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
       b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, superchat\r\n"
       b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n")
add("handshake_request", "upgrade", req)
add("handshake_request", "upgrade_with_frame", req + frame(1, b"Hello", mask=M))
add("handshake_request", "plain_get", b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
add("handshake_request", "version8", req.replace(b"Version: 13", b"Version: 8"))

# ---- handshake_response
resp = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n"
        b"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits=10\r\n\r\n")
add("handshake_response", "ok", resp)
add("handshake_response", "ok_with_frame", resp + frame(1, b"Hello"))
add("handshake_response", "403", b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno")

# ---- frame_decoder: first byte = config (bit0 client role, bit1 deflate, bit2 small limits, bits3-5 chunking)
srv = lambda op, p, **k: frame(op, p, mask=M, **k)
add("frame_decoder", "server_text", bytes([0x00]) + srv(1, b"Hello") + srv(9, b"ping") + srv(8, b"\x03\xe8bye"))
add("frame_decoder", "server_fragments", bytes([0x38]) + srv(1, b"Hel", fin=False) + srv(9, b"") + srv(0, b"lo") + srv(2, bytes(300)))
add("frame_decoder", "server_deflate", bytes([0x02]) + srv(1, HELLO_PMD, rsv=0x40) + srv(1, deflate(b"abc") [:2], rsv=0x40, fin=False) + srv(0, deflate(b"abc")[2:]))
add("frame_decoder", "server_deflate_small", bytes([0x06]) + srv(2, deflate(bytes(10000)), rsv=0x40))
add("frame_decoder", "client_plain", bytes([0x01]) + frame(1, "h\u00e9llo \u2603".encode()) + frame(10, b"x") + frame(8, b""))
add("frame_decoder", "client_deflate", bytes([0x03]) + frame(1, HELLO_PMD, rsv=0x40) + frame(2, bytes(70000)))
add("frame_decoder", "server_early_utf8", bytes([0x48]) + srv(1, "h\u00e9llo w\u00f6rld ".encode() * 20) + srv(1, b"ok\xff\xfe" + bytes(200)))
add("frame_decoder", "bad_len", bytes([0x00]) + bytes([0x82, 0xff]) + b"\x80" + bytes(7) + bytes(M))

# ---- deflate_decode: first byte = config; then [flags, len, payload]
def df(flags, p):
    assert len(p) < 256
    return bytes([flags, len(p)]) + p
add("deflate_decode", "hello", bytes([0x0c]) + df(0xc1, HELLO_PMD) + df(0xc1, HELLO_PMD))
add("deflate_decode", "fragmented", bytes([0x0d]) + df(0x41, HELLO_PMD[:3]) + df(0x80, HELLO_PMD[3:]) + df(0x89, b"ping"))
add("deflate_decode", "bomb", bytes([0x04]) + df(0xc2, deflate(bytes(200000))[:250]))
add("deflate_decode", "bfinal", bytes([0x0e]) + df(0xc2, zlib.compressobj(6, zlib.DEFLATED, -15).compress(b"x" * 50) + zlib.compressobj(6, zlib.DEFLATED, -15).flush()))

# ---- mux_wire
hs = b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n"
add("mux_wire", "add_request", b"\x00" + b"\x00\x02" + bytes([len(hs)]) + hs)
add("mux_wire", "add_response", b"\x00" + b"\x20\x02" + bytes([len(b"HTTP/1.1 101 OK\r\n\r\n")]) + b"HTTP/1.1 101 OK\r\n\r\n")
add("mux_wire", "flow_drop_slot", b"\x00" + b"\x40\x01\x7e\x20\x00" + b"\x60\x03\x05\x0b\xb9bye" + b"\x80\x40\x7e\x20\x00")
add("mux_wire", "frame", b"\x82\x01\x81Hello")
add("mux_wire", "channel_ids", b"\xe0\x00\x00\x01")
add("mux_wire", "number64", b"\x7f\x00\x00\x00\x00\x00\x01\x00\x00")
add("mux_wire", "request_text", hs)

# Encapsulated handshakes: a start line is required even in delta encoding.
def add_resp(ch, status=b"101 Switching Protocols"):  # AddChannelResponse, delta encoding
    r = b"HTTP/1.1 " + status + b"\r\n\r\n"
    rejected = 0x10 if not status.startswith(b"101") else 0
    return bytes([0x21 | rejected, ch, len(r)]) + r
def add_delta(ch):  # AddChannelRequest, delta encoding: a request line, no header changes
    r = b"GET /d HTTP/1.1\r\n\r\n"
    return b"\x01" + bytes([ch]) + bytes([len(r)]) + r

# ---- mux_session: first byte = role (0 server); then [len, physical message]
def m(p):
    assert len(p) < 256
    return bytes([len(p)]) + p
add("mux_session", "server_open_send", b"\x00" + m(b"\x00" + add_delta(2)) + m(b"\x02\x81Hello") + m(b"\x00\x40\x02\x7e\x10\x00") + m(b"\x02\x88\x03\xe8"))
add("mux_session", "server_identity", b"\x00" + m(b"\x00\x00\x04" + bytes([len(hs)]) + hs) + m(b"\x01\x82abc") + m(b"\x00\x60\x04\x00"))
add("mux_session", "client", b"\x01" + m(b"\x00\x40\x01\x7e\x04\x00\x80\x04\x7e\x01\x00") + m(b"\x00" + add_resp(2)) + m(b"\x02\x81hi"))

# ---- mux_driver: first byte = config (bit0 client role, bit1 small duplex, bit2 slow
# reader, bit3 even channels unread for 30 s, bit4 deflate for channel 1, bit5 split
# messages, bit6 end with Close, bit7 channels speak first); then [len, physical
# message], len 0 + op byte: 0 empty message, 1 pause, 2 ping, 3 close.
PAUSE, PING, CLOSE = b"\x00\x01", b"\x00\x02", b"\x00\x03"
def flow(ch, quota):  # FlowControl, 8-byte number form when large
    q = bytes([quota]) if quota < 126 else (b"\x7e" + struct.pack(">H", quota) if quota < 65536 else b"\x7f" + struct.pack(">Q", quota))
    return b"\x40" + bytes([ch]) + q
hs_deflate = (b"GET /y HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
add("mux_driver", "server_open_send_drop", b"\x40" + m(b"\x00" + add_delta(2)) + m(b"\x02\x81Hello") + m(b"\x00" + flow(2, 4096))
    + m(b"\x01\x82abc") + PAUSE + m(b"\x00\x60\x02\x05\x0b\xb9bye") + PAUSE)
add("mux_driver", "server_identity_deflate", b"\x90" + m(b"\x00\x00\x04" + bytes([len(hs_deflate)]) + hs_deflate)
    + m(b"\x04\xc1" + HELLO_PMD) + m(b"\x00" + flow(1, (1 << 63) - 1) + flow(1, (1 << 63) - 1)) + PAUSE + CLOSE)
add("mux_driver", "server_hostile_ids", b"\x00" + m(b"\x00" + add_delta(1)) + m(b"\x00" + add_delta(2)) + m(b"\x00" + add_delta(2))
    + m(b"\x00\x01\xff\xff\xff\xff\x00") + m(b"\x00\x60\x4d\x00") + m(b"\x00\x80\x40\x7e\x20\x00")
    + m(b"\x00\x00\x06\x05GET x") + m(b"\xff\xff\xff\xff\x81x") + PAUSE)
add("mux_driver", "server_backpressure", b"\x8e" + m(b"\x00" + add_delta(2) + add_delta(3) + add_delta(4))
    + b"".join(m(bytes([c]) + b"\x82" + bytes(200)) for c in (1, 2, 3, 4) * 4) + PAUSE + PING)
add("mux_driver", "server_fragmented", b"\x20" + m(b"\x02\x01Hel") + m(b"\x01\x80lo") + m(b"\x00" + add_delta(2)) + m(b"\x02\x89ping") + PAUSE)
add("mux_driver", "client_answers", b"\x01" + m(b"\x00" + flow(1, 1024) + b"\x80\x04\x7e\x01\x00") + PAUSE
    + m(b"\x00" + add_resp(2)) + m(b"\x00" + add_resp(3, b"403 Forbidden")) + m(b"\x02\x81hi") + m(b"\x01\x81there") + PAUSE
    + m(b"\x00\x60\x04\x00") + m(b"\x00\x60\x63\x00"))
add("mux_driver", "client_deflate_close", b"\xd1" + m(b"\x00" + flow(1, 1024) + b"\x80\x04\x7e\x01\x00") + PAUSE
    + m(b"\x00" + add_resp(2)) + m(b"\x01\xc1" + HELLO_PMD) + m(b"\x00" + flow(2, 70000)) + PAUSE)

def msgs(*parts):
    out = b""
    for op, m in parts:
        m = m + b" " * (-len(m) % 8)
        out += bytes([op, len(m) // 8]) + m
    return out
CHAT = [b'{"type":"message","user":"ana","text":"hello there, how are you?"}',
        b'{"type":"message","user":"bob","text":"fine thanks, and you?"}',
        b'{"type":"typing","user":"ana"}',
        b'{"type":"message","user":"ana","text":"hello there, how are you?"}']
add("deflate_roundtrip", "chat_l1_w15", b"\x01\x06" + msgs(*[(0, m) for m in CHAT]))
add("deflate_roundtrip", "chat_l6_w9_reset", b"\x06\x00" + msgs((0, CHAT[0]), (1, CHAT[1]), (0, CHAT[0] * 3)))
add("deflate_roundtrip", "chat_l9_hibernate", b"\x09\x05" + msgs((0, CHAT[0]), (2, CHAT[1]), (2, CHAT[0]), (0, bytes(255) * 8)))
add("deflate_roundtrip", "zlib_l1", b"\x81\x06" + msgs(*[(0, m) for m in CHAT]))

for target, items in seeds.items():
    d = os.path.join(HERE, "seeds", target)
    os.makedirs(d, exist_ok=True)
    for name, data in items:
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
print("wrote", sum(len(v) for v in seeds.values()), "seeds")
