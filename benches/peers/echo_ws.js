// Node `ws` 8 echo server with permessage-deflate (the peer of
// benches/side-by-side.sh). Prints `listening on ws://127.0.0.1:PORT` once
// bound; echoes text as text and binary as binary; exits on SIGTERM/SIGINT.
// Compression: ws's defaults (level 6 via zlib, 15-bit windows, context
// takeover, memLevel 8) except threshold 0, so every message is compressed
// as wsx and Python websockets do.
'use strict';
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2] || 0);
const wss = new WebSocketServer({
  host: '127.0.0.1',
  port,
  maxPayload: 64 * 1024 * 1024,
  perMessageDeflate: { threshold: 0 },
});
wss.on('listening', () => {
  process.stdout.write(`listening on ws://127.0.0.1:${wss.address().port}\n`);
});
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    for (const c of wss.clients) c.terminate();
    wss.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
