// Neutral load client for benches/side-by-side.sh, on Node `ws` 8 (not on
// wsx, so no server is measured with its own client).
//
//   node load_ws.js --url ws://127.0.0.1:PORT/ [--connections 20] [--messages 400]
//                   [--no-deflate] [--hold SECONDS] [--timeout 120] [--seed N]
//   node load_ws.js --corpus-stats        # describe the message corpus and exit
//   node load_ws.js --dump-corpus FILE    # write the corpus to FILE and exit
//                                         # (records: 1 byte binary flag, u32 LE
//                                         # length, bytes; read by
//                                         # benches/src/bin/broadcast_load.rs)
//   node load_ws.js --dump-corpus-dir DIR # one file per message (m0000, m0001,
//                                         # ...) in DIR, and exit: an input for
//                                         # `wsx ratio DIR`
//
// Throughput mode (default): N connections, each does M round trips in turn:
// send one message, wait for its echo, check it is byte-exact and of the same
// kind (text/binary), send the next. All N connections run concurrently.
//
// Memory mode (--hold SECONDS): open all N connections first (a barrier:
// nothing is sent until every one is open), then each does M round trips,
// then `holding` is printed on stderr and every connection stays open, idle,
// for SECONDS; then all are closed cleanly (close 1000, wait for the peer's
// close) before the report.
//
// Every connection offers permessage-deflate with Node ws's client defaults
// (`perMessageDeflate: true`: the offer is `permessage-deflate;
// client_max_window_bits`, zlib's default level, and ws's default threshold
// of 1024 B, which ws applies only when client_no_context_takeover is
// negotiated: then the client sends messages under 1 KiB uncompressed)
// unless --no-deflate. The negotiated Sec-WebSocket-Extensions is taken verbatim
// from the 101 response.
//
// Messages: a deterministic corpus of realistic JSON chat/event messages
// (chat message, presence, typing, reaction, order/price update,
// notification) of 200 B - 4 KiB, generated from a seeded PRNG, the same for
// every server. Connection c sends corpus[(c * 131 + j) % CORPUS] for
// j = 0..M-1; every 10th corpus entry is sent as a binary message (the same
// JSON bytes), the rest as text.
//
// Wire bytes: exact TCP payload bytes of the WebSocket frames after the
// handshake: the socket's bytesWritten / bytesRead when the connection opens
// (the whole HTTP request / 101 response, nothing else: these echo servers
// send nothing before the first message) are subtracted from the same
// counters read after the last echo arrived and before the close handshake.
// So the figures cover exactly the data frames of the M round trips (and any
// ping/pong a server might send meanwhile), not the handshake and not the
// close frames.
//
// Output: one JSON line on stdout. Exit status 1 if any connection failed,
// any echo mismatched, or the run timed out; 2 on bad usage.
'use strict';

const WebSocket = require('ws');

// ------------------------------------------------------------------ options
function parseArgs(argv) {
  const o = {
    url: null, connections: 20, messages: 400, deflate: true, hold: null,
    timeout: 120, seed: 0x5eed, corpusStats: false, dumpCorpus: null, dumpCorpusDir: null,
    connectConcurrency: 100,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    const num = () => {
      const v = Number(next());
      if (!Number.isFinite(v) || v < 0) usage(`${a}: not a number`);
      return v;
    };
    switch (a) {
      case '--url': o.url = next(); break;
      case '--connections': case '-c': o.connections = num(); break;
      case '--messages': case '-m': o.messages = num(); break;
      case '--no-deflate': o.deflate = false; break;
      case '--hold': o.hold = num(); break;
      case '--timeout': o.timeout = num(); break;
      case '--seed': o.seed = num(); break;
      case '--connect-concurrency': o.connectConcurrency = Math.max(1, num()); break;
      case '--corpus-stats': o.corpusStats = true; break;
      case '--dump-corpus': o.dumpCorpus = next(); break;
      case '--dump-corpus-dir': o.dumpCorpusDir = next(); break;
      default: usage(`unknown argument ${a}`);
    }
  }
  if (!o.url && !o.corpusStats && !o.dumpCorpus && !o.dumpCorpusDir) usage('--url is required');
  return o;
}

function usage(msg) {
  process.stderr.write(`load_ws.js: ${msg}\n` +
    'usage: node load_ws.js --url URL [--connections N] [--messages M] [--no-deflate]\n' +
    '                       [--hold SECONDS] [--timeout SECONDS] [--seed N] | --corpus-stats\n' +
    '                       | --dump-corpus FILE | --dump-corpus-dir DIR\n');
  process.exit(2);
}

// ------------------------------------------------------------------ corpus
const CORPUS = 1000;
const MIN_SIZE = 200;
const MAX_SIZE = 4096;

// mulberry32: small, fast, deterministic 32-bit PRNG.
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy',
  'mallory', 'niaj', 'olivia', 'peggy', 'rupert', 'sybil', 'trent', 'victor', 'walter', 'yuki',
  'zoe', 'mateo', 'amara', 'kenji', 'priya', 'lars', 'fatima', 'diego', 'ingrid', 'omar'];
const LAST = ['smith', 'nguyen', 'garcia', 'mueller', 'rossi', 'tanaka', 'kowalski', 'silva',
  'dubois', 'hansen', 'okafor', 'haddad', 'novak', 'lindqvist', 'moreau', 'ivanova'];
const WORDS = ('the a we it this that deploy build release meeting tomorrow today lunch coffee ' +
  'review merge branch ticket customer dashboard latency graph alert on call shift weekend ' +
  'looks good to me thanks again sorry late can you check my last comment about pricing page ' +
  'update numbers quarter roadmap design mockup figma link sent doc draft please approve before ' +
  'friday standup moved to ten thirty server restarted cache warmed up tests are green now ' +
  'flaky one failed retry passed invoice shipped order delayed warehouse tracking number').split(' ');
const CHANNELS = ['#general', '#random', '#eng-backend', '#eng-frontend', '#ops', '#sales',
  '#support', '#design', '#release-train', '#incidents'];
const EMOJI = ['thumbsup', 'heart', 'tada', 'eyes', 'rocket', 'joy', 'pray', 'fire', 'white_check_mark', '100'];
const SYMBOLS = ['BTC-USD', 'ETH-USD', 'SOL-USD', 'AAPL', 'MSFT', 'EUR-USD', 'GBP-JPY', 'TSLA'];
const STATUS = ['online', 'away', 'dnd', 'offline'];
const OS = ['ios', 'android', 'web', 'macos', 'windows', 'linux'];

function makeCorpus(seed) {
  const r = prng(seed);
  const int = (lo, hi) => lo + Math.floor(r() * (hi - lo + 1));
  const pick = (xs) => xs[Math.floor(r() * xs.length)];
  const hex = (n) => { let s = ''; for (let i = 0; i < n; i++) s += '0123456789abcdef'[int(0, 15)]; return s; };
  const id36 = () => int(1e9, 9e12).toString(36);
  let clock = Date.UTC(2026, 2, 14, 9, 0, 0);
  const ts = () => { clock += int(5, 5000); return new Date(clock).toISOString(); };
  const sentence = () => {
    const n = int(4, 18);
    const w = [];
    for (let i = 0; i < n; i++) w.push(pick(WORDS));
    w[0] = w[0][0].toUpperCase() + w[0].slice(1);
    return w.join(' ') + pick(['.', '.', '!', '?', '...']);
  };
  const text = (k) => { const s = []; for (let i = 0; i < k; i++) s.push(sentence()); return s.join(' '); };
  const user = () => {
    const f = pick(FIRST), l = pick(LAST), id = int(10000, 999999);
    return { id: `u_${id}`, name: `${f[0].toUpperCase()}${f.slice(1)} ${l[0].toUpperCase()}${l.slice(1)}`,
      handle: `${f}.${l}${int(1, 99)}`, avatar: `https://cdn.example.com/avatars/${id}/${hex(8)}.png` };
  };
  const price = (base) => (base * (0.9 + 0.2 * r())).toFixed(2);

  const gens = [
    // chat message: 300 B - 2.5 KiB
    [30, (big) => ({
      type: 'message', id: `msg_${id36()}`, channel: pick(CHANNELS), user: user(), ts: ts(),
      text: text(big ? int(6, 22) : int(2, 6)),
      mentions: Array.from({ length: int(0, 3) }, () => `@${pick(FIRST)}`),
      thread: r() < 0.3 ? { parent_id: `msg_${id36()}`, reply_count: int(1, 40), last_reply: ts() } : null,
      attachments: r() < 0.2 ? [{ kind: 'image', url: `https://files.example.com/${hex(16)}.jpg`, w: int(200, 4000), h: int(200, 3000), bytes: int(2e4, 5e6) }] : [],
      edited: r() < 0.1,
    })],
    // presence: ~200-400 B
    [15, () => ({
      type: 'presence', user_id: `u_${int(10000, 999999)}`, status: pick(STATUS), last_seen: ts(),
      device: { os: pick(OS), app_version: `${int(1, 9)}.${int(0, 30)}.${int(0, 99)}`, locale: pick(['en-US', 'de-DE', 'ja-JP', 'pt-BR', 'fr-FR']) },
      channels: Array.from({ length: int(1, 6) }, () => pick(CHANNELS)),
      session: hex(24),
    })],
    // typing: ~200-300 B
    [15, () => ({
      type: 'typing', channel: pick(CHANNELS), user: user(), ts: ts(), expires_in_ms: 5000,
      thread_id: r() < 0.3 ? `msg_${id36()}` : null,
    })],
    // reaction: ~250-500 B
    [10, () => {
      const counts = {};
      for (let i = int(1, 5); i > 0; i--) counts[pick(EMOJI)] = int(1, 60);
      return { type: 'reaction', action: r() < 0.85 ? 'added' : 'removed', message_id: `msg_${id36()}`,
        channel: pick(CHANNELS), emoji: pick(EMOJI), user: user(), ts: ts(), counts };
    }],
    // order / price event: 300 B - 4 KiB (book depth varies)
    [18, (big) => {
      const sym = pick(SYMBOLS), base = int(20, 60000), depth = big ? int(8, 40) : int(0, 4);
      const level = () => [price(base), (r() * 10).toFixed(4)];
      return {
        type: 'order_update', seq: int(1e6, 9e8), ts: ts(),
        order: { id: `ord_${hex(12)}`, client_order_id: `c-${id36()}`, symbol: sym,
          side: pick(['buy', 'sell']), kind: pick(['limit', 'market', 'stop_limit']),
          price: price(base), qty: (r() * 5).toFixed(4), filled: (r() * 5).toFixed(4),
          status: pick(['new', 'partially_filled', 'filled', 'cancelled']), tif: pick(['GTC', 'IOC', 'FOK']),
          fills: Array.from({ length: int(0, big ? 6 : 2) }, () => ({ trade_id: int(1e7, 9e9), price: price(base), qty: (r() * 2).toFixed(4), fee: (r() / 10).toFixed(6), ts: ts() })) },
        book: { bids: Array.from({ length: depth }, level), asks: Array.from({ length: depth }, level) },
      };
    }],
    // notification with nested objects: 400 B - 4 KiB
    [12, (big) => ({
      type: 'notification', id: `ntf_${id36()}`, recipient: user(), created_at: ts(),
      unread: int(0, 250),
      items: Array.from({ length: big ? int(3, 9) : int(1, 2) }, () => ({
        kind: pick(['mention', 'reply', 'reaction', 'invite', 'assignment', 'deploy']),
        actor: user(), target: { type: pick(['message', 'ticket', 'pull_request', 'doc']), id: id36(), title: text(1) },
        preview: text(int(1, 2)), created_at: ts(),
      })),
      meta: { delivery: { push: r() < 0.5, email: r() < 0.2, digest: pick(['none', 'hourly', 'daily']) }, trace_id: hex(32) },
    })],
  ];
  const total = gens.reduce((s, g) => s + g[0], 0);
  const out = [];
  while (out.length < CORPUS) {
    let x = r() * total, g = gens[0][1];
    for (const [w, f] of gens) { if (x < w) { g = f; break; } x -= w; }
    const big = r() < 0.25;
    const s = JSON.stringify(g(big));
    if (s.length < MIN_SIZE || s.length > MAX_SIZE) continue;
    out.push({ buf: Buffer.from(s, 'utf8'), binary: out.length % 10 === 9 });
  }
  return out;
}

function corpusStats(corpus) {
  const sizes = corpus.map((m) => m.buf.length).sort((a, b) => a - b);
  const q = (p) => sizes[Math.min(sizes.length - 1, Math.floor(p * sizes.length))];
  const kinds = {};
  for (const m of corpus) { const t = JSON.parse(m.buf).type; kinds[t] = (kinds[t] || 0) + 1; }
  return { entries: sizes.length, min: sizes[0], p50: q(0.5), p90: q(0.9), max: sizes[sizes.length - 1],
    mean: sizes.reduce((a, b) => a + b, 0) / sizes.length,
    share_le_1500: sizes.filter((s) => s <= 1500).length / sizes.length,
    binary: corpus.filter((m) => m.binary).length, kinds };
}

// ------------------------------------------------------------------ run
function quantile(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const corpus = makeCorpus(o.seed);
  if (o.corpusStats) {
    process.stdout.write(JSON.stringify(corpusStats(corpus)) + '\n');
    return 0;
  }
  if (o.dumpCorpusDir) {
    const fs = require('fs');
    const path = require('path');
    fs.mkdirSync(o.dumpCorpusDir, { recursive: true });
    corpus.forEach((m, k) => {
      fs.writeFileSync(path.join(o.dumpCorpusDir, `m${String(k).padStart(4, '0')}`), m.buf);
    });
    return 0;
  }
  if (o.dumpCorpus) {
    const parts = [];
    for (const m of corpus) {
      const h = Buffer.alloc(5);
      h[0] = m.binary ? 1 : 0;
      h.writeUInt32LE(m.buf.length, 1);
      parts.push(h, m.buf);
    }
    require('fs').writeFileSync(o.dumpCorpus, Buffer.concat(parts));
    return 0;
  }

  const stats = {
    msgs: 0, errors: 0, mismatches: 0, error_samples: [], extensions: null, extensions_differ: 0,
    c2s: 0, s2c: 0, hs_c2s: 0, hs_s2c: 0, payload: 0, rtts: [],
  };
  const fail = (what) => {
    stats.errors++;
    if (stats.error_samples.length < 5) stats.error_samples.push(String(what));
  };
  const conns = [];
  let timedOut = false;
  const t0 = process.hrtime.bigint();
  const timer = setTimeout(() => {
    timedOut = true;
    fail(`timeout after ${o.timeout} s`);
    for (const c of conns) c.ws.terminate();
    finish(1);
  }, o.timeout * 1000);

  // Opens one connection; resolves with its state (or null on failure).
  const open = (idx) => new Promise((resolve) => {
    const ws = new WebSocket(o.url, { perMessageDeflate: o.deflate, maxPayload: 64 * 1024 * 1024 });
    const c = { ws, idx, ext: null, base: null, closed: false };
    ws.on('upgrade', (res) => { c.ext = res.headers['sec-websocket-extensions'] || ''; });
    ws.once('open', () => {
      const s = ws._socket;
      c.base = { w: s.bytesWritten, r: s.bytesRead };
      stats.hs_c2s += c.base.w;
      stats.hs_s2c += c.base.r;
      if (stats.extensions === null) stats.extensions = c.ext;
      else if (stats.extensions !== c.ext) stats.extensions_differ++;
      conns.push(c);
      resolve(c);
    });
    ws.on('error', (e) => { if (!c.base) { fail(`connect: ${e.message}`); resolve(null); } else fail(`conn ${idx}: ${e.message}`); });
    ws.on('close', (code) => {
      c.closed = true;
      if (c.base && !c.closing) fail(`conn ${idx}: closed by server (${code})`);
      if (c.onClose) c.onClose();
    });
    ws.on('unexpected-response', (_req, res) => { fail(`connect: HTTP ${res.statusCode}`); resolve(null); });
  });

  // M round trips on one open connection.
  const roundTrips = (c) => new Promise((resolve) => {
    let j = 0, sentAt = 0n, expect = null;
    const sendNext = () => {
      if (j >= o.messages || c.closed) {
        const s = c.ws._socket;
        c.c2s = s.bytesWritten - c.base.w;
        c.s2c = s.bytesRead - c.base.r;
        c.onMessage = null;
        resolve();
        return;
      }
      expect = corpus[(c.idx * 131 + j) % corpus.length];
      j++;
      sentAt = process.hrtime.bigint();
      c.ws.send(expect.buf, { binary: expect.binary }, (err) => { if (err) fail(`send: ${err.message}`); });
    };
    c.ws.on('message', (data, isBinary) => {
      if (!expect) { stats.mismatches++; return; }
      stats.rtts.push(Number(process.hrtime.bigint() - sentAt) / 1e3);
      if (isBinary !== expect.binary || !Buffer.isBuffer(data) || !data.equals(expect.buf)) stats.mismatches++;
      stats.msgs++;
      stats.payload += expect.buf.length;
      expect = null;
      sendNext();
    });
    c.onClose = () => { expect = null; resolve(); };
    sendNext();
  });

  // Opens all N with at most connectConcurrency handshakes in flight.
  const openAll = async () => {
    let next = 0;
    const out = [];
    const worker = async () => {
      while (next < o.connections) {
        const idx = next++;
        const c = await open(idx);
        if (c) out.push(c);
      }
    };
    await Promise.all(Array.from({ length: Math.min(o.connectConcurrency, o.connections) }, worker));
    return out;
  };

  const closeAll = (list) => Promise.all(list.map((c) => new Promise((resolve) => {
    if (c.closed) { resolve(); return; }
    c.closing = true;
    c.onClose = resolve;
    c.ws.close(1000);
    setTimeout(() => { c.ws.terminate(); resolve(); }, 3000).unref();
  })));

  let tTraffic = 0n;
  if (o.hold !== null) {
    const list = await openAll(); // barrier: every connection open before any traffic
    if (timedOut) return;
    const tStart = process.hrtime.bigint();
    await Promise.all(list.map(roundTrips));
    tTraffic = process.hrtime.bigint() - tStart;
    if (timedOut) return;
    process.stderr.write(`holding ${list.length} connections for ${o.hold} s\n`);
    await new Promise((r) => setTimeout(r, o.hold * 1000));
    await closeAll(list);
  } else {
    // Every connection starts its round trips as soon as it is open.
    const list = [];
    const tStart = process.hrtime.bigint();
    let next = 0;
    const worker = async () => {
      const mine = [];
      while (next < o.connections) {
        const idx = next++;
        const c = await open(idx);
        if (c) { list.push(c); mine.push(roundTrips(c)); }
      }
      await Promise.all(mine);
    };
    await Promise.all(Array.from({ length: Math.min(o.connectConcurrency, o.connections) }, worker));
    tTraffic = process.hrtime.bigint() - tStart;
    if (timedOut) return;
    await closeAll(list);
  }
  for (const c of conns) { stats.c2s += c.c2s || 0; stats.s2c += c.s2c || 0; }
  if (conns.length < o.connections && stats.errors === 0) fail('connections missing');
  const expected = conns.length * o.messages;
  if (stats.msgs < expected) fail(`only ${stats.msgs} of ${o.connections * o.messages} echoes`);
  stats.elapsed = Number(tTraffic) / 1e9;
  finish(stats.errors || stats.mismatches ? 1 : 0);

  function finish(code) {
    clearTimeout(timer);
    const rtts = stats.rtts.sort((a, b) => a - b);
    const m = stats.msgs || 1;
    const report = {
      client: `node ${process.version} ws ${require('ws/package.json').version}`,
      deflate_offered: o.deflate, connections: o.connections, messages_per_connection: o.messages,
      hold_s: o.hold, msgs: stats.msgs, errors: stats.errors, mismatches: stats.mismatches,
      error_samples: stats.error_samples, elapsed_s: stats.elapsed ?? null,
      msgs_per_s: stats.elapsed ? stats.msgs / stats.elapsed : null,
      extensions: stats.extensions, extensions_differ: stats.extensions_differ,
      payload_bytes: stats.payload,
      wire_c2s_bytes: stats.c2s, wire_s2c_bytes: stats.s2c,
      wire_c2s_per_msg: stats.c2s / m, wire_s2c_per_msg: stats.s2c / m,
      payload_per_msg: stats.payload / m,
      handshake_c2s_bytes: stats.hs_c2s, handshake_s2c_bytes: stats.hs_s2c,
      p50_us: quantile(rtts, 0.5), p99_us: quantile(rtts, 0.99),
      wire_bytes_method: 'socket bytesWritten/bytesRead after the last echo minus the same at open (handshake excluded, close frames excluded)',
    };
    process.stdout.write(JSON.stringify(report) + '\n', () => process.exit(code));
  }
  return null;
}

main().then((code) => { if (code !== null && code !== undefined) process.exit(code); },
  (e) => { process.stderr.write(`load_ws.js: ${e.stack || e}\n`); process.exit(1); });
