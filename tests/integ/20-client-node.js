#!/usr/bin/env node
'use strict';
// The wshub client (through the `wshub` CLI) against a server nobody here
// wrote: Node's ws. Text, binary, fragmented messages both ways, ping/pong
// both ways, close codes both ways, permessage-deflate with each parameter.

const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');
const h = require(path.join(__dirname, 'wshtest.js'));

const WSHUB = process.env.WSHUB || '';
try {
  fs.accessSync(WSHUB, fs.constants.X_OK);
} catch (e) {
  console.log('# SKIP: WSHUB not set or not executable: ' + JSON.stringify(WSHUB));
  process.exit(77);
}
let WebSocket;
try {
  WebSocket = require('ws');
} catch (e) {
  try {
    WebSocket = require('/usr/share/nodejs/ws');
  } catch (e2) {
    console.log('# SKIP: the Node ws module is not installed (set NODE_PATH)');
    process.exit(77);
  }
}
h.overallAlarm(180);

// Run `wshub ARGS` with |input| on stdin; resolves { rc, out, err }.
function cli(args, input, timeoutMs) {
  return new Promise((resolve) => {
    const p = spawn(WSHUB, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs || 20000);
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('close', (rc) => { clearTimeout(t); resolve({ rc, out, err }); });
    p.stdin.on('error', () => {});
    p.stdin.end(input || '');
  });
}

// The payloads the CLI printed ("[hh:mm:ss.mmm] < text").
function msgs(out) {
  return out.split('\n').filter((l) => l.includes('] < ')).map((l) => l.split('] < ')[1]);
}

// A ws server on a free port; |got| records what the handler saw.
async function server(opts) {
  const port = await h.freePort();
  const got = { msgs: [], pongs: [], closes: [], raw: 0, conns: 0 };
  const wss = new WebSocket.Server(Object.assign({ host: '127.0.0.1', port }, opts));
  await new Promise((r) => wss.on('listening', r));
  wss.on('connection', (ws, req) => {
    got.conns += 1;
    got.path = req.url;
    got.headers = req.headers;
    got.extensions = ws.extensions;
    const sock = req.socket;
    ws.on('message', (data, isBinary) => {
      got.msgs.push({ data: Buffer.from(data), isBinary });
      if (req.url.startsWith('/echo')) ws.send(data, { binary: isBinary });
    });
    ws.on('pong', (d) => got.pongs.push(d.toString()));
    ws.on('close', (code, reason) => {
      got.closes.push({ code, reason: reason.toString() });
      got.raw = sock.bytesRead;
    });
    if (req.url === '/binary') {
      ws.send(Buffer.from([...Array(40).keys()]));
    } else if (req.url === '/fragmented') {
      ws.send('frag', { fin: false });
      ws.send('men', { fin: false });
      ws.send('ted', { fin: true });
    } else if (req.url === '/fragmented-binary') {
      ws.send(Buffer.from([1, 2, 3]), { binary: true, fin: false });
      ws.send(Buffer.from([4, 5]), { binary: true, fin: true });
    } else if (req.url === '/ping') {
      ws.ping('are-you-there');
      ws.once('pong', () => ws.send('pong-ok'));
    } else if (req.url === '/close4000') {
      ws.close(4000, 'bye now');
    } else if (req.url === '/close1011') {
      ws.close(1011, 'internal');
    } else if (req.url === '/terminate') {
      setTimeout(() => ws.terminate(), 50);
    }
  });
  const url = (p) => 'ws://127.0.0.1:' + port + p;
  const close = () => new Promise((r) => {
    for (const c of wss.clients) c.terminate();
    wss.close(() => r());
  });
  return { url, got, close };
}

async function waitFor(pred, ms) {
  const end = Date.now() + (ms || 5000);
  while (Date.now() < end && !pred()) await h.sleep(20);
  return pred();
}

async function main() {
  const rep = new h.Report();
  let s = await server({ perMessageDeflate: false });
  let r;

  r = await cli(['connect', '-n', '2', s.url('/echo')], 'hello\nworld\n');
  rep.check('text messages echoed', r.rc === 0 && JSON.stringify(msgs(r.out)) ===
            JSON.stringify(['hello', 'world']), r.out + r.err);
  rep.check('server got text frames', s.got.msgs.length === 2 &&
            !s.got.msgs[0].isBinary && s.got.msgs[0].data.toString() === 'hello',
            JSON.stringify(s.got.msgs));

  r = await cli(['connect', '-n', '1', s.url('/binary')]);
  rep.check('binary message received',
            r.out.includes('[binary 40 bytes] 000102030405'), r.out + r.err);

  r = await cli(['connect', '-n', '1', s.url('/fragmented')]);
  rep.check('fragmented text message assembled',
            JSON.stringify(msgs(r.out)) === '["fragmented"]', r.out + r.err);
  r = await cli(['connect', '-n', '1', s.url('/fragmented-binary')]);
  rep.check('fragmented binary message assembled',
            r.out.includes('[binary 5 bytes] 0102030405'), r.out + r.err);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wsh-node-'));
  try {
    const bin = Buffer.alloc(100000);
    for (let i = 0; i < bin.length; i++) bin[i] = (i * 7919) & 0xff;
    fs.writeFileSync(path.join(tmp, 'bin'), bin);
    s.got.msgs = [];
    r = await cli(['send', '-b', '--fragment', '7000', s.url('/sink'), path.join(tmp, 'bin')]);
    rep.check('fragmented binary send arrives whole', r.rc === 0 &&
              await waitFor(() => s.got.msgs.length === 1) &&
              s.got.msgs[0].isBinary && s.got.msgs[0].data.equals(bin), r.err);
    const txt = '\u00e9t\u00e9 '.repeat(5000);
    fs.writeFileSync(path.join(tmp, 'txt'), txt);
    s.got.msgs = [];
    r = await cli(['send', '--fragment', '333', s.url('/sink'), path.join(tmp, 'txt')]);
    rep.check('fragmented text split inside characters arrives whole', r.rc === 0 &&
              await waitFor(() => s.got.msgs.length === 1) &&
              !s.got.msgs[0].isBinary && s.got.msgs[0].data.toString() === txt, r.err);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }

  r = await cli(['connect', '-n', '1', s.url('/ping')]);
  rep.check('server ping answered with its payload', JSON.stringify(msgs(r.out)) ===
            '["pong-ok"]' && s.got.pongs.includes('are-you-there') &&
            r.out.includes('ping (13 bytes)'), r.out + r.err);
  s.got.pongs = [];
  r = await cli(['connect', '-n', '1', s.url('/echo')], '/ping abc\nx\n');
  rep.check('client ping gets a pong', r.out.includes('pong (3 bytes)'), r.out + r.err);
  r = await cli(['connect', '-n', '1', s.url('/echo')], '/pong keepalive\nx\n');
  rep.check('unsolicited pong reaches the server',
            await waitFor(() => s.got.pongs.includes('keepalive')),
            JSON.stringify(s.got.pongs) + r.out + r.err);

  r = await cli(['connect', '-n', '1', '--no-reconnect', s.url('/close4000')]);
  rep.check('server close code 4000 and reason reported',
            r.out.includes('closed: code 4000, reason: bye now') &&
            !r.out.includes('(by us)'), r.out + r.err);
  r = await cli(['connect', '-n', '1', '--no-reconnect', s.url('/close1011')]);
  rep.check('server close code 1011 reported',
            r.out.includes('closed: code 1011, reason: internal'), r.out + r.err);
  r = await cli(['connect', '-n', '1', '--no-reconnect', s.url('/terminate')]);
  rep.check('dropped connection reported as 1006',
            r.out.includes('closed: code 1006'), r.out + r.err);
  s.got.closes = [];
  r = await cli(['connect', '-n', '1', s.url('/echo')], 'a\n/close 4001 done here\n');
  // An earlier connection's close may still be on its way: look for ours.
  rep.check('client close code and reason sent',
            await waitFor(() => s.got.closes.some((c) => c.code === 4001 &&
                                                    c.reason === 'done here')),
            JSON.stringify(s.got.closes) + r.out + r.err);
  s.got.closes = [];
  r = await cli(['connect', '-n', '1', s.url('/echo')], 'a\n/close\n');
  rep.check('client close without a code',
            await waitFor(() => s.got.closes.some((c) => [1000, 1005].includes(c.code))) &&
            !s.got.closes.some((c) => c.code === 1006),
            JSON.stringify(s.got.closes) + r.out + r.err);

  r = await cli(['connect', '-n', '1', '-P', 'chat.v1', '-H', 'X-Token: abc',
                 s.url('/echo?q=1')], 'hi\n');
  rep.check('extra header and query sent', s.got.headers['x-token'] === 'abc' &&
            s.got.path === '/echo?q=1', JSON.stringify(s.got.headers));
  r = await cli(['connect', '-n', '1', '-v', '--no-deflate', s.url('/echo')], 'plain\n');
  rep.check('--no-deflate offers no extension', !r.out.includes('extensions:') &&
            s.got.headers['sec-websocket-extensions'] === undefined &&
            JSON.stringify(msgs(r.out)) === '["plain"]', r.out + r.err);
  await s.close();

  // permessage-deflate with each parameter the server may answer with.
  const cases = [
    ['defaults', {}, null],
    ['serverNoContextTakeover', { serverNoContextTakeover: true }, 'server_no_context_takeover'],
    ['clientNoContextTakeover', { clientNoContextTakeover: true }, 'client_no_context_takeover'],
    ['serverMaxWindowBits=9', { serverMaxWindowBits: 9 }, 'server_max_window_bits=9'],
    ['clientMaxWindowBits=10', { clientMaxWindowBits: 10 }, 'client_max_window_bits=10'],
    ['all four', { serverNoContextTakeover: true, clientNoContextTakeover: true,
                   serverMaxWindowBits: 10, clientMaxWindowBits: 11 },
     'server_max_window_bits=10'],
  ];
  for (const [name, pmd, param] of cases) {
    s = await server({ perMessageDeflate: Object.assign({ threshold: 0 }, pmd) });
    const lines = [];
    for (let i = 0; i < 5; i++) lines.push('msg ' + i + ' ' + 'abcdefgh'.repeat(20 + i));
    r = await cli(['connect', '-n', '5', '-v', s.url('/echo')], lines.join('\n') + '\n');
    const ext = (r.out.match(/extensions: (.*)/) || [])[1] || '';
    rep.check('permessage-deflate ' + name + ': negotiated',
              ext.startsWith('permessage-deflate') && (param === null || ext.includes(param)) &&
              String(s.got.extensions).includes('permessage-deflate'),
              r.out + ' / ' + JSON.stringify(s.got.extensions));
    rep.check('permessage-deflate ' + name + ': messages round-trip',
              JSON.stringify(msgs(r.out)) === JSON.stringify(lines), r.out + r.err);
    const total = lines.reduce((a, l) => a + l.length, 0);
    const sent = r.err.match(/sent 5 msgs (\d+) bytes/);
    rep.check('permessage-deflate ' + name + ': client compressed',
              sent !== null && Number(sent[1]) < total / 2 &&
              await waitFor(() => s.got.raw > 0) && s.got.raw < total, r.err +
              ' server read ' + s.got.raw);
    const recv = r.err.match(/received \d+ msgs (\d+) bytes/);
    rep.check('permessage-deflate ' + name + ': server compressed',
              recv !== null && Number(recv[1]) < total / 2 + 300, r.err);
    await s.close();
  }

  process.exit(rep.done());
}

main().catch((e) => {
  console.log('not ok - ' + ((e && e.stack) || e));
  process.exit(1);
});
