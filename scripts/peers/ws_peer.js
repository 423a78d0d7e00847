// Node `ws` peer for scripts/peers/interop.py (run with NODE_PATH pointing at
// the node_modules that conformance.sh installs).
//
//   node ws_peer.js client URL OPTIONS_JSON SUITE_JSON
//       connects with perMessageDeflate = OPTIONS (null: no offer), sends each
//       message of SUITE, checks each echo byte for byte; prints one JSON line
//       per event: {"open": {"extensions": ...}}, {"msg": name, "ok": bool,
//       "detail": ...}, {"close": code}, {"error": ...}
//   node ws_peer.js server OPTIONS_JSON
//       echo server on 127.0.0.1:0; prints {"port": N}, then per connection
//       {"offer": ..., "response": ...} and {"closed": code}
'use strict';
const crypto = require('crypto');
const { WebSocket, WebSocketServer } = require('ws');

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

function pmdOptions(o) {
  if (o === null) return false;
  // Trap: an option set to false means "refuse"; only set what is wanted.
  const r = { threshold: 0 };
  for (const k of ['serverNoContextTakeover', 'clientNoContextTakeover',
    'serverMaxWindowBits', 'clientMaxWindowBits']) {
    if (o[k] !== undefined && o[k] !== null && o[k] !== false) r[k] = o[k];
  }
  return r;
}

// Deterministic message generation shared in spirit with interop.py.
function words(n, seed) {
  const w = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta',
    'websocket', 'deflate', 'window', 'context', 'takeover', 'frame', 'mask', 'Ω', 'ü'];
  let s = seed >>> 0 || 1;
  const parts = [];
  let len = 0;
  while (len < n) {
    s = (s * 1103515245 + 12345) >>> 0;
    const x = w[(s >>> 16) % w.length] + ((s & 7) === 0 ? '\n' : ' ');
    parts.push(x);
    len += Buffer.byteLength(x);
  }
  let b = Buffer.from(parts.join(''));
  b = b.subarray(0, n);
  // cut back to a UTF-8 boundary
  let end = b.length;
  while (end > 0 && (b[end - 1] & 0xc0) === 0x80) end--;
  if (end > 0 && b[end - 1] >= 0xc0) end--;
  else end = b.length;
  return b.subarray(0, end).toString('utf8');
}

function makeMessage(m) {
  // m: {name, kind: text|binary|random|zeros|utf8, size, frags?}
  switch (m.kind) {
    case 'text': return { binary: false, data: Buffer.from(words(m.size, m.seed || 7)) };
    case 'utf8': return { binary: false, data: Buffer.from('héllo wörld ✓ 😀 '.repeat(m.size)) };
    case 'binary': return { binary: true, data: Buffer.from(words(m.size, m.seed || 9)) };
    case 'random': return { binary: true, data: crypto.randomBytes(m.size) };
    case 'zeros': return { binary: true, data: Buffer.alloc(m.size) };
    default: throw new Error('unknown kind ' + m.kind);
  }
}

function client(url, opts, suite) {
  const ws = new WebSocket(url, { perMessageDeflate: pmdOptions(opts), maxPayload: 256 << 20 });
  let i = 0; let cur = null; let failed = false;
  const timer = setTimeout(() => { out({ error: 'timeout at message ' + (cur && cur.m.name) }); process.exit(3); }, 120000);
  ws.on('upgrade', (res) => {
    // the offer exactly as ws's client builds it (lib/websocket.js initAsClient)
    let offer = null;
    const o = pmdOptions(opts);
    if (o) {
      const lib = require('path').join(require('path').dirname(require.resolve('ws')), 'lib');
      const PerMessageDeflate = require(lib + '/permessage-deflate.js');
      const { format } = require(lib + '/extension.js');
      const pmd = new PerMessageDeflate(o, false, 256 << 20);
      offer = format({ [PerMessageDeflate.extensionName]: pmd.offer() });
    }
    out({ open: { extensions: res.headers['sec-websocket-extensions'] || null, offer } });
  });
  function next() {
    if (i >= suite.length) { ws.close(1000); return; }
    const m = suite[i++];
    const msg = makeMessage(m);
    cur = { m, msg };
    if (m.frags && m.frags.length) {
      let off = 0;
      for (const f of m.frags) {
        ws.send(msg.data.subarray(off, off + f), { binary: msg.binary, fin: false });
        off += f;
      }
      ws.send(msg.data.subarray(off), { binary: msg.binary, fin: true });
    } else {
      ws.send(msg.data, { binary: msg.binary });
    }
  }
  ws.on('open', next);
  ws.on('message', (data, isBinary) => {
    if (!cur) { out({ msg: '?', ok: false, detail: 'unexpected message' }); return; }
    const { m, msg } = cur;
    let detail = null;
    if (isBinary !== msg.binary) detail = `type: sent ${msg.binary ? 'binary' : 'text'}, got ${isBinary ? 'binary' : 'text'}`;
    else if (!Buffer.from(data).equals(msg.data)) detail = `payload differs: sent ${msg.data.length} B, got ${data.length} B`;
    if (detail) failed = true;
    out({ msg: m.name, ok: !detail, detail });
    cur = null;
    next();
  });
  ws.on('close', (code, reason) => {
    clearTimeout(timer);
    if (cur) out({ msg: cur.m.name, ok: false, detail: 'connection closed before echo' });
    out({ close: code, reason: reason.toString() });
    process.exit(failed ? 1 : 0);
  });
  ws.on('error', (e) => { out({ error: String(e && e.message || e) }); });
}

function server(opts) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: pmdOptions(opts), maxPayload: 256 << 20 });
  const pending = new Map();
  wss.on('headers', (headers, req) => {
    const h = headers.find((x) => /^sec-websocket-extensions:/i.test(x));
    pending.set(req, h ? h.replace(/^[^:]*:\s*/, '') : null);
  });
  wss.on('connection', (ws, req) => {
    out({ offer: req.headers['sec-websocket-extensions'] || null, response: pending.get(req) || null });
    pending.delete(req);
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('close', (code) => out({ closed: code }));
    ws.on('error', (e) => out({ error: String(e && e.message || e) }));
  });
  wss.on('listening', () => out({ port: wss.address().port }));
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'client') client(args[0], JSON.parse(args[1]), JSON.parse(args[2]));
else if (mode === 'server') server(JSON.parse(args[0]));
else { console.error('usage: ws_peer.js client URL OPTS SUITE | server OPTS'); process.exit(2); }
