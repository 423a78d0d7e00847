// Headless Chromium against `wsx serve`, driven over the DevTools protocol
// (with the `ws` package; no puppeteer, no downloaded browser).
//
//   node chromium_test.js --chromium /usr/bin/chromium --ws-port N --out DIR
//        [--ws-path /echo] [--pages test,demo] [--group 'test page -> wsx serve']
//
// 1. A test page served by a small HTTP server here opens
//    ws://127.0.0.1:N/echo (--ws-path), sends text and binary messages of
//    0 B .. 1 MiB, checks every echo and that ws.extensions has
//    permessage-deflate (and the 101's Sec-WebSocket-Extensions, seen on the
//    network), then closes cleanly. We poll the page until it marks itself
//    done. --group names its RESULT line.
// 2. The demo page that wsx serve serves at GET /: it must open a WebSocket
//    back to the server (handshake seen on the network with permessage-deflate),
//    and what we type must be sent, echoed and shown on the page together with
//    the negotiated extension.
// 3. With --protocols P1,P2 (what `wsx serve --protocol P1 --protocol P2`
//    was started with, in its order of preference): a page opens
//    `new WebSocket(url, offer)` for several offers and checks ws.protocol
//    (the server's most preferred offered protocol) and an echo, and on the
//    network wsx's 101 (no Sec-WebSocket-Protocol when none match: Chromium
//    then fails the connection, as WHATWG Fetch requires of browsers); the
//    demo page opened with ?protocols=... shows the negotiated one.
// --pages picks the pages (default: all of them); `--pages test` runs only
// the test page, for any echo server (conformance.sh's dropin-chromium part:
// the drop-ins' example servers).
// Prints PASS/FAIL lines and RESULT lines for conformance.sh.
'use strict';
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');
const WebSocket = require('ws');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const WS_PORT = Number(args['ws-port']);
const OUT = args.out || os.tmpdir();
const CHROMIUM = args.chromium || '/usr/bin/chromium';
const SERVER_PROTOCOLS = args.protocols ? args.protocols.split(',').filter(Boolean) : null;
const WS_PATH = args['ws-path'] || '/echo';
const PAGES = (args.pages || 'test,demo,proto').split(',');
const G_TEST = args.group || 'test page -> wsx serve';
const G_PROTO = 'subprotocols -> wsx serve --protocol';
// What the server must answer to an offer: its most preferred offered protocol.
const expectedProtocol = (offer) => SERVER_PROTOCOLS.find((p) => offer.includes(p)) || '';
const PROTOCOL_OFFERS = [['chat.v1', 'chat.v2'], ['chat.v2', 'chat.v1'], ['chat.v1'], ['other', 'chat.v1'],
  ['Chat.V2', 'CHAT.V1'], ['other'], []];

const results = {};
function record(group, name, ok, detail) {
  const g = results[group] || (results[group] = [0, 0]);
  g[ok ? 0 : 1]++;
  console.log(`${ok ? 'PASS' : 'FAIL'} [chromium ${group}] ${name}${ok || !detail ? '' : ': ' + detail}`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const TEST_PAGE = `<!doctype html><meta charset="utf-8"><title>wsx chromium test</title>
<script>
window.__done = false; window.__result = null;
(async function () {
  const res = { checks: [], extensions: null, protocol: null, close: null };
  const check = (name, ok, detail) => res.checks.push({ name, ok: !!ok, detail: detail || '' });
  function text(n, seed) {
    const w = ['alpha ', 'beta ', 'gamma ', 'websocket ', 'deflate ', 'Ω ', 'ü ', '数据 ', '😀 '];
    let s = '', x = seed;
    while (s.length < n) { x = (x * 1103515245 + 12345) >>> 0; s += w[(x >>> 16) % w.length]; }
    return s.slice(0, n).replace(/[\\ud800-\\udbff]$/, 'x');
  }
  function random(n) {
    const b = new Uint8Array(n);
    for (let o = 0; o < n; o += 65536) crypto.getRandomValues(b.subarray(o, Math.min(n, o + 65536)));
    return b;
  }
  function compressible(n) { const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = (i * 7) % 13; return b; }
  const sizes = [0, 1, 2, 125, 126, 127, 1000, 4096, 65535, 65536, 100000, 262144, 1048576];
  const msgs = [];
  for (const n of sizes) {
    msgs.push(['text-' + n, text(n, n + 1)]);
    msgs.push(['binary-random-' + n, random(n)]);
    msgs.push(['binary-compressible-' + n, compressible(n)]);
  }
  msgs.push(['text-repeat-a', text(30000, 5)]); msgs.push(['text-repeat-b', text(30000, 5)]);
  try {
    const ws = new WebSocket('ws://127.0.0.1:${WS_PORT}${WS_PATH}');
    ws.binaryType = 'arraybuffer';
    let waiter = null;
    const inbox = [];
    ws.onmessage = (e) => { if (waiter) { const w = waiter; waiter = null; w(e.data); } else inbox.push(e.data); };
    const closed = new Promise((r) => { ws.onclose = (e) => r({ code: e.code, wasClean: e.wasClean, reason: e.reason }); });
    await new Promise((ok, bad) => { ws.onopen = ok; ws.onerror = () => bad(new Error('WebSocket error before open')); });
    res.extensions = ws.extensions; res.protocol = ws.protocol;
    check('ws.extensions has permessage-deflate', /permessage-deflate/.test(ws.extensions), 'ws.extensions = ' + JSON.stringify(ws.extensions));
    const next = () => inbox.length ? Promise.resolve(inbox.shift()) :
      new Promise((r, bad) => { waiter = r; setTimeout(() => bad(new Error('timeout')), 30000); });
    for (const [name, data] of msgs) {
      ws.send(data);
      let echo;
      try { echo = await next(); } catch (e) { check(name, false, 'no echo: ' + e.message); break; }
      if (typeof data === 'string') {
        check(name, echo === data, typeof echo !== 'string' ? 'echo is not text' : 'text differs: sent ' + data.length + ' chars, got ' + echo.length);
      } else {
        const e = typeof echo === 'string' ? null : new Uint8Array(echo);
        let same = e && e.length === data.length;
        if (same) for (let i = 0; i < e.length; i++) if (e[i] !== data[i]) { same = false; break; }
        check(name, same, !e ? 'echo is text, sent binary' : 'binary differs: sent ' + data.length + ' B, got ' + e.length);
      }
    }
    ws.close(1000, 'done');
    res.close = await closed;
    check('clean close 1000', res.close.code === 1000 && res.close.wasClean, JSON.stringify(res.close));
  } catch (e) {
    check('run', false, String(e && e.message || e));
  }
  window.__result = res; window.__done = true;
})();
</script><body>wsx chromium test</body>`;

// One WebSocket per offer: ws.protocol and an echo, reported in window.__result.
const PROTO_PAGE = () => `<!doctype html><meta charset="utf-8"><title>wsx subprotocol test</title>
<script>
window.__done = false; window.__result = null;
(async function () {
  const out = [];
  for (const offer of ${JSON.stringify(PROTOCOL_OFFERS)}) {
    const r = { offer, protocol: null, echo: false, error: null };
    try {
      const ws = offer.length ? new WebSocket('ws://127.0.0.1:${WS_PORT}/echo', offer) : new WebSocket('ws://127.0.0.1:${WS_PORT}/echo');
      await new Promise((ok, bad) => { ws.onopen = ok; ws.onerror = () => bad(new Error('WebSocket error before open')); setTimeout(() => bad(new Error('open timeout')), 10000); });
      r.protocol = ws.protocol;
      const echo = new Promise((ok, bad) => { ws.onmessage = (e) => ok(e.data); setTimeout(() => bad(new Error('no echo')), 10000); });
      ws.send('hello ' + offer.join(','));
      r.echo = (await echo) === 'hello ' + offer.join(',');
      const closed = new Promise((ok) => { ws.onclose = (e) => ok(e.code); });
      ws.close(1000);
      r.close = await closed;
    } catch (e) { r.error = String(e && e.message || e); }
    out.push(r);
  }
  window.__result = out; window.__done = true;
})();
</script><body>wsx subprotocol test</body>`;

// ---------------------------------------------------------------- CDP client
class CDP {
  constructor(url) {
    this.ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1 << 30 });
    this.id = 0; this.pending = new Map(); this.listeners = [];
    this.ws.on('message', (m) => {
      const msg = JSON.parse(m);
      if (msg.id && this.pending.has(msg.id)) {
        const { ok, bad } = this.pending.get(msg.id); this.pending.delete(msg.id);
        msg.error ? bad(new Error(msg.error.message)) : ok(msg.result);
      } else if (msg.method) for (const l of this.listeners) l(msg);
    });
  }
  open() { return new Promise((ok, bad) => { this.ws.once('open', ok); this.ws.once('error', bad); }); }
  send(method, params = {}, sessionId) {
    const id = ++this.id;
    this.ws.send(JSON.stringify({ id, method, params, sessionId }));
    return new Promise((ok, bad) => {
      this.pending.set(id, { ok, bad });
      setTimeout(() => { if (this.pending.delete(id)) bad(new Error(method + ' timed out')); }, 30000);
    });
  }
  on(fn) { this.listeners.push(fn); }
}

async function launch() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsx-chromium-'));
  const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-dev-shm-usage', `--user-data-dir=${dir}`, '--remote-debugging-port=0',
    '--remote-debugging-address=127.0.0.1', 'about:blank'];
  const proc = spawn(CHROMIUM, flags, { stdio: ['ignore', 'ignore', fs.openSync(path.join(OUT, 'chromium.stderr'), 'w')] });
  const portFile = path.join(dir, 'DevToolsActivePort');
  for (let i = 0; i < 300; i++) {
    if (fs.existsSync(portFile)) {
      const [port, p] = fs.readFileSync(portFile, 'utf8').split('\n');
      if (port && p) return { proc, dir, url: `ws://127.0.0.1:${port}${p}` };
    }
    if (proc.exitCode !== null) break;
    await sleep(100);
  }
  proc.kill('SIGKILL');
  throw new Error('chromium did not start (see chromium.stderr)');
}

async function newPage(cdp) {
  const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
  const s = (m, p) => cdp.send(m, p, sessionId);
  const events = [];
  cdp.on((msg) => { if (msg.sessionId === sessionId) events.push(msg); });
  await s('Network.enable'); await s('Page.enable'); await s('Runtime.enable');
  return { s, events, targetId };
}

async function evaluate(s, expr) {
  const r = await s('Runtime.evaluate', { expression: expr, returnByValue: true, awaitPromise: true });
  if (r.exceptionDetails) throw new Error('evaluate: ' + JSON.stringify(r.exceptionDetails).slice(0, 300));
  return r.result.value;
}

// ---------------------------------------------------------------- tests
async function testPage(cdp, httpPort) {
  const G = G_TEST;
  const { s, events } = await newPage(cdp);
  await s('Page.navigate', { url: `http://127.0.0.1:${httpPort}/test.html` });
  let res = null;
  const end = Date.now() + 180000;
  while (Date.now() < end) {
    await sleep(500);
    try { res = await evaluate(s, 'window.__done ? window.__result : null'); } catch (e) { /* navigating */ }
    if (res) break;
  }
  if (!res) { record(G, 'page finished', false, 'no result within 180 s'); return; }
  for (const c of res.checks) record(G, c.name, c.ok, c.detail);
  const hs = events.find((e) => e.method === 'Network.webSocketHandshakeResponseReceived');
  if (hs) {
    const h = hs.params.response.headers || {};
    const ext = Object.keys(h).filter((k) => k.toLowerCase() === 'sec-websocket-extensions').map((k) => h[k]).join(', ');
    console.log(`  handshake: status ${hs.params.response.status}; Sec-WebSocket-Extensions: ${ext}`);
  }
  const hsExt = hs ? Object.entries(hs.params.response.headers || {})
    .filter(([k]) => k.toLowerCase() === 'sec-websocket-extensions').map(([, v]) => v).join(', ') : '';
  record(G, 'handshake 101 with permessage-deflate (network)',
    !!hs && hs.params.response.status === 101 && /^permessage-deflate/.test(hsExt),
    hs ? `status ${hs.params.response.status}, Sec-WebSocket-Extensions "${hsExt}"` : 'no handshake response seen');
  for (const e of events.filter((x) => x.method === 'Runtime.exceptionThrown')) {
    record(G, 'no page exceptions', false, JSON.stringify(e.params.exceptionDetails).slice(0, 300));
  }
}

async function demoPage(cdp) {
  const G = 'demo page (GET /)';
  const { s, events } = await newPage(cdp);
  const base = `http://127.0.0.1:${WS_PORT}/`;
  await s('Page.navigate', { url: base });
  const wait = async (pred, ms) => {
    const end = Date.now() + ms;
    while (Date.now() < end) { const v = pred(); if (v) return v; await sleep(100); }
    return null;
  };
  const loaded = await wait(() => events.find((e) => e.method === 'Page.loadEventFired'), 20000);
  record(G, 'GET / loads', !!loaded, 'no load event within 20 s');
  const resp = events.find((e) => e.method === 'Network.responseReceived' && e.params.type === 'Document');
  if (resp) record(G, 'GET / status 200', resp.params.response.status === 200, 'status ' + resp.params.response.status);
  const created = await wait(() => events.find((e) => e.method === 'Network.webSocketCreated'), 10000);
  record(G, 'page opens a WebSocket to the server', !!created && created.params.url.startsWith(`ws://127.0.0.1:${WS_PORT}`),
    created ? 'url ' + created.params.url : 'no WebSocket created within 10 s');
  const hs = await wait(() => events.find((e) => e.method === 'Network.webSocketHandshakeResponseReceived'), 10000);
  let ext = '';
  if (hs) {
    const h = hs.params.response.headers || {};
    ext = Object.keys(h).filter((k) => k.toLowerCase() === 'sec-websocket-extensions').map((k) => h[k]).join(', ');
  }
  record(G, 'handshake 101 with permessage-deflate', hs && hs.params.response.status === 101 && /permessage-deflate/.test(ext),
    hs ? `status ${hs.params.response.status}, extensions "${ext}"` : 'no handshake response');
  await sleep(500);
  // Type like a user: focus the first text field, insert text, press Enter;
  // if nothing is sent, click the first button.
  const token = 'wsx-demo-' + Math.random().toString(36).slice(2, 10);
  const focused = await evaluate(s, `(() => {
    const el = document.querySelector('textarea, input[type=text], input:not([type]), [contenteditable=true]');
    if (!el) return null; el.focus(); return el.tagName + (el.id ? '#' + el.id : '');
  })()`);
  record(G, 'page has a text field', !!focused, 'no input/textarea found');
  if (!focused) return;
  await s('Input.insertText', { text: token });
  const key = (type) => s('Input.dispatchKeyEvent', { type, key: 'Enter', code: 'Enter', windowsVirtualKeyCode: 13, nativeVirtualKeyCode: 13, text: type === 'keyDown' ? '\r' : undefined });
  await key('keyDown'); await key('keyUp');
  const sentFrame = () => events.find((e) => e.method === 'Network.webSocketFrameSent' && (e.params.response.payloadData || '').includes(token));
  let sent = await wait(sentFrame, 2000);
  if (!sent) {
    const clicked = await evaluate(s, `(() => { const b = document.querySelector('button, input[type=submit], input[type=button]'); if (!b) return false; b.click(); return true; })()`);
    if (clicked) sent = await wait(sentFrame, 3000);
  }
  record(G, 'typed text is sent over the WebSocket', !!sent, 'no frame with the typed text was sent (Enter and button click tried)');
  const got = await wait(() => events.find((e) => e.method === 'Network.webSocketFrameReceived' && (e.params.response.payloadData || '').includes(token)), 5000);
  record(G, 'echo received', !!got, 'no echo frame within 5 s');
  await sleep(500);
  const text = await evaluate(s, 'document.body ? document.body.innerText : ""');
  const count = text.split(token).length - 1;
  record(G, 'page shows the echo', count >= 1, 'typed text not on the page');
  record(G, 'page shows the negotiated extension', /permessage-deflate/.test(text), 'no "permessage-deflate" in the page text');
  fs.writeFileSync(path.join(OUT, 'demo-page.txt'), text);
  for (const e of events.filter((x) => x.method === 'Runtime.exceptionThrown')) {
    record(G, 'no page exceptions', false, JSON.stringify(e.params.exceptionDetails).slice(0, 300));
  }
}

async function protocolPage(cdp, httpPort) {
  const { s, events } = await newPage(cdp);
  await s('Page.navigate', { url: `http://127.0.0.1:${httpPort}/proto.html` });
  let res = null;
  const end = Date.now() + 60000;
  while (Date.now() < end) {
    await sleep(300);
    try { res = await evaluate(s, 'window.__done ? window.__result : null'); } catch (e) { /* navigating */ }
    if (res) break;
  }
  if (!res) { record(G_PROTO, 'subprotocol page finished', false, 'no result within 60 s'); return; }
  const header = (h, name) => {
    const k = Object.keys(h || {}).find((x) => x.toLowerCase() === name);
    return k === undefined ? null : h[k];
  };
  for (const r of res) {
    const want = expectedProtocol(r.offer);
    const name = `new WebSocket(url, ${JSON.stringify(r.offer)})`;
    // The server's answer, as seen on the network.
    const offered = r.offer.length ? r.offer.join(', ') : null;
    const req = events.find((e) => e.method === 'Network.webSocketWillSendHandshakeRequest' &&
      header(e.params.request.headers, 'sec-websocket-protocol') === offered);
    const resp = req && events.find((e) => e.method === 'Network.webSocketHandshakeResponseReceived' &&
      e.params.requestId === req.params.requestId);
    const answered = resp ? header(resp.params.response.headers, 'sec-websocket-protocol') : undefined;
    if (!want && r.offer.length) {
      // WHATWG Fetch ("establish a WebSocket connection"): a browser that
      // offered protocols fails the connection when the answer selects none.
      // DevTools then reports no handshake response, only Chromium's reason,
      // which says what wsx answered.
      const err = req && events.find((e) => e.method === 'Network.webSocketFrameError' &&
        e.params.requestId === req.params.requestId);
      const why = err ? err.params.errorMessage : '';
      record(G_PROTO, `${name}: wsx answers without Sec-WebSocket-Protocol`,
        (!!resp && resp.params.response.status === 101 && answered === null) ||
        (!resp && /Sent non-empty 'Sec-WebSocket-Protocol' header but no response was received/.test(why)),
        resp ? `status ${resp.params.response.status}, Sec-WebSocket-Protocol ${JSON.stringify(answered)}` :
          `handshake not seen; Chromium: ${JSON.stringify(why)}`);
      record(G_PROTO, `${name}: Chromium fails the connection (no protocol selected; WHATWG rule)`, !!r.error,
        `it opened with ws.protocol = ${JSON.stringify(r.protocol)}`);
      continue;
    }
    record(G_PROTO, `${name}: wsx answers 101 with ${want ? 'Sec-WebSocket-Protocol: ' + want : 'no Sec-WebSocket-Protocol'}`,
      !!resp && resp.params.response.status === 101 && answered === (want || null),
      resp ? `status ${resp.params.response.status}, Sec-WebSocket-Protocol ${JSON.stringify(answered)}` : 'handshake not seen');
    if (r.error) { record(G_PROTO, name, false, r.error); continue; }
    record(G_PROTO, `${name}: ws.protocol = ${JSON.stringify(want)}`, r.protocol === want, `ws.protocol = ${JSON.stringify(r.protocol)}`);
    record(G_PROTO, `${name}: echo and clean close`, r.echo && r.close === 1000, `echo ${r.echo}, close ${r.close}`);
  }
}

async function demoPageProtocols(cdp) {
  const offer = ['chat.v1', 'chat.v2'];
  const want = expectedProtocol(offer);
  const { s, events } = await newPage(cdp);
  await s('Page.navigate', { url: `http://127.0.0.1:${WS_PORT}/?protocols=${offer.join(',')}` });
  let shown = null;
  const end = Date.now() + 20000;
  while (Date.now() < end) {
    await sleep(200);
    try { shown = await evaluate(s, `(() => { const p = document.getElementById('proto'); const st = document.getElementById('status');
      return st && st.textContent === 'open' && p ? p.textContent : null; })()`); } catch (e) { /* navigating */ }
    if (shown) break;
  }
  const hs = events.find((e) => e.method === 'Network.webSocketHandshakeResponseReceived');
  const h = hs ? hs.params.response.headers || {} : {};
  const got = Object.keys(h).filter((k) => k.toLowerCase() === 'sec-websocket-protocol').map((k) => h[k]).join(', ');
  record(G_PROTO, `demo page /?protocols=${offer.join(',')}: handshake answers ${want}`, got === want,
    hs ? `Sec-WebSocket-Protocol "${got}"` : 'no handshake response');
  record(G_PROTO, `demo page /?protocols=${offer.join(',')}: shows the negotiated protocol ${want}`,
    !!shown && shown.startsWith(want + ' '), `protocol field ${JSON.stringify(shown)}`);
}

async function main() {
  const server = http.createServer((req, res) => {
    if (req.url === '/test.html') { res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }); res.end(TEST_PAGE); }
    else if (req.url === '/proto.html' && SERVER_PROTOCOLS) { res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }); res.end(PROTO_PAGE()); }
    else { res.writeHead(404); res.end(); }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const httpPort = server.address().port;
  let browser = null;
  try {
    browser = await launch();
    const cdp = new CDP(browser.url);
    await cdp.open();
    const v = await cdp.send('Browser.getVersion');
    console.log(`  ${v.product}`);
    if (PAGES.includes('test')) {
      try { await testPage(cdp, httpPort); } catch (e) { record(G_TEST, 'run', false, String(e.stack || e)); }
    }
    if (PAGES.includes('demo')) {
      try { await demoPage(cdp); } catch (e) { record('demo page (GET /)', 'run', false, String(e.stack || e)); }
    }
    if (SERVER_PROTOCOLS && PAGES.includes('proto')) {
      try { await protocolPage(cdp, httpPort); } catch (e) { record(G_PROTO, 'run', false, String(e.stack || e)); }
      try { await demoPageProtocols(cdp); } catch (e) { record(G_PROTO, 'demo page run', false, String(e.stack || e)); }
    }
    try { await cdp.send('Browser.close'); } catch (e) { /* exiting */ }
  } catch (e) {
    record(G_TEST, 'chromium', false, String(e.stack || e));
  } finally {
    server.close();
    if (browser) {
      await sleep(300);
      try { browser.proc.kill('SIGKILL'); } catch (e) { /* gone */ }
      fs.rmSync(browser.dir, { recursive: true, force: true });
    }
  }
  const groups = [];
  if (PAGES.includes('test')) groups.push(G_TEST);
  if (PAGES.includes('demo')) groups.push('demo page (GET /)');
  if (SERVER_PROTOCOLS && PAGES.includes('proto')) groups.push(G_PROTO);
  for (const g of groups) {
    const [p, f] = results[g] || [0, 1];
    if (!results[g]) console.log(`FAIL [chromium ${g}] never ran`);
    console.log(`RESULT\tchromium\t${g}\t${p}\t${f}`);
  }
  process.exit(0);
}
main();
