// Node `ws` 8 broadcast server (the peer of benches/broadcast.sh), the
// counterpart of `wsx serve --broadcast`: every text or binary message
// received on a path is sent, unchanged and with its kind, to every open
// connection on that path, the sender included, by a loop of
// `client.send(data, { binary })` (ws has no shared encoding: each send
// compresses for its connection).
//
//   node broadcast_ws.js [PORT] [--server-no-context-takeover]
//
// Compression: `perMessageDeflate: true`, i.e. ws's defaults once enabled
// (ws leaves it off on the server unless asked): zlib level 6, 15-bit
// windows, memLevel 8, context takeover, threshold 1024 B (which ws applies
// only without context takeover). --server-no-context-takeover adds
// `serverNoContextTakeover: true`, as in the tuning example of ws's README
// (each connection's compressor is reset after every message, still one
// compression per connection); with it, messages under the 1024 B
// threshold are sent uncompressed. The loop is the "Server broadcast" example of ws's README.
// Prints `listening on ws://127.0.0.1:PORT` once bound; exits on
// SIGTERM/SIGINT.
'use strict';
const { WebSocketServer, WebSocket } = require('ws');

const args = process.argv.slice(2);
const port = Number(args.find((a) => !a.startsWith('--')) || 0);
const perMessageDeflate = args.includes('--server-no-context-takeover')
  ? { serverNoContextTakeover: true }
  : true;
const wss = new WebSocketServer({ host: '127.0.0.1', port, maxPayload: 64 * 1024 * 1024, perMessageDeflate });
const rooms = new Map();

wss.on('listening', () => {
  process.stdout.write(`listening on ws://127.0.0.1:${wss.address().port}\n`);
});
wss.on('connection', (ws, req) => {
  const path = req.url;
  let room = rooms.get(path);
  if (!room) { room = new Set(); rooms.set(path, room); }
  room.add(ws);
  ws.on('message', (data, isBinary) => {
    for (const client of room) {
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    }
  });
  ws.on('close', () => {
    room.delete(ws);
    if (room.size === 0 && rooms.get(path) === room) rooms.delete(path);
  });
  ws.on('error', () => {});
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    for (const c of wss.clients) c.terminate();
    wss.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
