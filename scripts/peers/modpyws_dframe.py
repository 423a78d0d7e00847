# -*- coding: utf-8 -*-
"""A deflate-frame client built from mod_pywebsocket 0.7.9's own classes
(Python 2.7), for `scripts/conformance.sh --only deflate-frame`.

mod_pywebsocket's example/echo_client.py can offer only a bare
`deflate-frame`; this client does the opening handshake itself so that it
can offer `x-webkit-deflate-frame` and parameters too, and then frames,
compresses and inflates with the library's own code: common.parse_extensions,
extensions.DeflateFrameExtensionProcessor (its client side, set up from the
server's answer exactly as echo_client.py does) and stream.Stream.

    python modpyws_dframe.py --port PORT --offer 'deflate-frame' --label LABEL

One connection to ws://127.0.0.1:PORT/echo offering OFFER; each check prints
PASS or FAIL, and the last line is
RESULT<TAB>mod_pywebsocket<TAB>LABEL<TAB>passed<TAB>failed. Exit status 0.

Checks: the 101 answers the name offered (only deflate-frame parameters the
client can honour); every echo is byte for byte (text, UTF-8, binary, empty,
a message sent as three compressed fragments, a repeat that only compresses
well with the window carried over); the server's echoes of compressible
messages arrive with RSV1 and several times smaller than the payload; the
closing handshake ends with 1000; the server's window carries over from
frame to frame, or not when the offer says no_context_takeover.

Do not offer max_window_bits to a mod_pywebsocket 0.7.9 *server*: its
DeflateFrameExtensionProcessor hands the parameter's string to zlib
(`-window_bits` on a str) and fails on the first message it sends. As a
client here it takes max_window_bits from the answer the same way, so a
server must not answer one either.
"""

import base64
import hashlib
import optparse
import os
import socket
import sys
import traceback

from mod_pywebsocket import common
from mod_pywebsocket.extensions import DeflateFrameExtensionProcessor
from mod_pywebsocket.stream import Stream, StreamOptions

GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'


class Failed(Exception):
    pass


class Counter(object):
    """Data frames seen by a frame filter: count, with RSV1, payload bytes."""

    def __init__(self):
        self.frames = 0
        self.rsv1 = 0
        self.wire = 0

    def filter(self, frame):
        if common.is_control_opcode(frame.opcode):
            return
        self.frames += 1
        self.rsv1 += frame.rsv1
        self.wire += len(frame.payload)

    def snapshot(self):
        return (self.frames, self.rsv1, self.wire)


class Connection(object):
    """The mp_conn interface Stream needs, on a socket."""

    def __init__(self, sock):
        self._sock = sock

    def write(self, data):
        self._sock.sendall(data)

    def read(self, n):
        return self._sock.recv(n)


class Request(object):
    """The mp_request interface Stream needs."""

    def __init__(self, sock):
        self.connection = Connection(sock)
        self.ws_version = common.VERSION_HYBI13


def handshake(sock, port, resource, offer):
    """Send the upgrade request; return the answer's
    Sec-WebSocket-Extensions (None when absent)."""
    key = base64.b64encode(os.urandom(16))
    sock.sendall(
        'GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n'
        'Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n'
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: %s\r\n\r\n'
        % (resource, port, key, offer))
    head = ''
    while not head.endswith('\r\n\r\n'):
        c = sock.recv(1)
        if not c:
            raise Failed('connection closed during the handshake: %r' % head)
        head += c
        if len(head) > 16384:
            raise Failed('response head too long')
    lines = head[:-4].split('\r\n')
    if not lines[0].startswith('HTTP/1.1 101 '):
        raise Failed('status line %r' % lines[0])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(':')
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    want = base64.b64encode(hashlib.sha1(key + GUID).digest())
    if headers.get('sec-websocket-accept') != [want]:
        raise Failed('Sec-WebSocket-Accept %r, want %r'
                     % (headers.get('sec-websocket-accept'), want))
    ext = headers.get('sec-websocket-extensions')
    return ', '.join(ext) if ext else None


def main():
    parser = optparse.OptionParser()
    parser.add_option('--port', type='int')
    parser.add_option('--resource', default='/echo')
    parser.add_option('--offer', default='deflate-frame')
    parser.add_option('--label', default='modpyws deflate-frame client')
    opts, _ = parser.parse_args()

    counts = {'p': 0, 'f': 0}

    def check(ok, name, detail=''):
        if ok:
            counts['p'] += 1
            print('PASS %s' % name)
        else:
            counts['f'] += 1
            print('FAIL %s%s' % (name, (': ' + detail) if detail else ''))
        sys.stdout.flush()
        return ok

    try:
        run(opts, check)
    except Exception:
        check(False, 'client ran to the end', traceback.format_exc())
    print('RESULT\tmod_pywebsocket\t%s\t%d\t%d'
          % (opts.label, counts['p'], counts['f']))


def run(opts, check):
    offered = common.parse_extensions(opts.offer)
    name = offered[0].name()
    sock = socket.create_connection(('127.0.0.1', opts.port), 10)
    sock.settimeout(20)
    answer = handshake(sock, opts.port, opts.resource, opts.offer)
    accepted = common.parse_extensions(answer) if answer else []
    if not check(len(accepted) == 1 and accepted[0].name() == name,
                 'offer %r answered with %s' % (opts.offer, name),
                 'Sec-WebSocket-Extensions: %r' % answer):
        return
    print('answer: Sec-WebSocket-Extensions: %s' % answer)
    # The client side, as echo_client.py sets it up: the processor reads
    # the server's answer (its parameters bind our compressor).
    processor = DeflateFrameExtensionProcessor(accepted[0])
    if not check(processor.get_extension_response() is not None,
                 'mod_pywebsocket accepts the answer %r' % answer):
        return
    options = StreamOptions()
    options.mask_send = True
    options.unmask_receive = False
    processor.setup_stream_options(options)
    incoming, outgoing = Counter(), Counter()
    # Before the inflater (which setup put first) and after the deflater:
    # the frames as they are on the wire.
    options.incoming_frame_filters.insert(0, incoming)
    options.outgoing_frame_filters.append(outgoing)
    request = Request(sock)
    stream = Stream(request, options)

    long_text = u''.join(
        u'{"id": %d, "name": "deflate-frame", "text": "every frame alone"} '
        % i for i in range(120))
    blob = ''.join(chr(i % 251) for i in range(4096)) * 4
    cases = [
        ('short text', [u'hello deflate-frame'], False, False),
        ('long text', [long_text], False, True),
        ('the same long text again (window carried over)', [long_text],
         False, True),
        ('UTF-8 text', [u'\u03ba\u1f79\u03c3\u03bc\u03b5 \u2603 ' * 50],
         False, True),
        ('empty text', [u''], False, False),
        ('binary', [blob], True, True),
        ('text in three compressed fragments',
         [long_text[:1000], long_text[1000:3000], long_text[3000:]],
         False, True),
    ]
    echo_wire = {}
    for label, parts, binary, compressible in cases:
        before_in = incoming.snapshot()
        before_out = outgoing.snapshot()
        for i, part in enumerate(parts):
            stream.send_message(part, end=(i == len(parts) - 1),
                                binary=binary)
        got = stream.receive_message()
        want = ''.join(parts) if binary else u''.join(parts)
        size = len(want.encode('utf-8') if not binary else want)
        check(got == want and isinstance(got, type(want)),
              'echo of %s (%d bytes) exact' % (label, size),
              'got %r...' % (got[:60] if got is not None else None))
        frames, rsv1, wire = [a - b for a, b in
                              zip(incoming.snapshot(), before_in)]
        sent = [a - b for a, b in zip(outgoing.snapshot(), before_out)]
        print('  %s: sent %d frames (%d with RSV1, %d bytes on the wire); '
              'echo %d frames (%d with RSV1), %d payload bytes for %d'
              % (label, sent[0], sent[1], sent[2], frames, rsv1, wire, size))
        echo_wire[label] = wire
        if compressible:
            check(rsv1 >= 1 and rsv1 == frames and wire * 4 < size,
                  'echo of %s came compressed (RSV1 on %d/%d frames, '
                  '%d bytes for %d)' % (label, rsv1, frames, wire, size))
    # The server's window: carried from frame to frame unless the offer
    # asked for no_context_takeover, when each frame starts afresh (the
    # same text then compresses to the same size).
    first = echo_wire['long text']
    again = echo_wire['the same long text again (window carried over)']
    if offered[0].has_parameter('no_context_takeover'):
        check(again == first,
              'no_context_takeover: the repeat compressed afresh '
              '(%d bytes, first %d)' % (again, first))
    else:
        check(again * 2 < first,
              'context takeover: the repeat compressed against the window '
              '(%d bytes, first %d)' % (again, first))
    stream.close_connection()
    code = getattr(request, 'ws_close_code', None)
    check(code == common.STATUS_NORMAL_CLOSURE,
          'closing handshake answered with 1000', 'code %r' % code)
    sock.close()


if __name__ == '__main__':
    main()
