#!/usr/bin/env node
'use strict';
// permessage-deflate with an independent client: Node's ws (perMessageDeflate on).

const path = require('path');
const crypto = require('crypto');
const h = require(path.join(__dirname, 'wshtest.js'));

h.requireDaemon();
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
h.overallAlarm(120);

// threshold 0: ws compresses every message it sends
function open(url, pmd) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, [], { perMessageDeflate: pmd === undefined ? { threshold: 0 } : pmd,
      maxPayload: 0, handshakeTimeout: 5000 });
    let ext = null;
    ws.on('upgrade', (res) => { ext = res.headers['sec-websocket-extensions'] || ''; });
    ws.on('open', () => { ws.extHeader = ext; resolve(ws); });
    ws.on('error', reject);
  });
}

function nextMessage(ws) {
  return new Promise((resolve, reject) => {
    const onMsg = (data, isBinary) => { cleanup(); resolve({ data, isBinary }); };
    const onClose = (code) => { cleanup(); reject(new Error('closed with ' + code + ' before a message')); };
    const cleanup = () => { ws.off('message', onMsg); ws.off('close', onClose); };
    ws.on('message', onMsg);
    ws.on('close', onClose);
  });
}

function json(n, seed) {
  let s = '';
  for (let i = seed; s.length < n; i++) s += '{"seq":' + i + ',"user":"u' + (i % 97) + '","text":"héllo"},';
  return s.slice(0, n);
}

async function echoMany(url, pmd, msgs) {
  const ws = await open(url, pmd);
  try {
    if (!/permessage-deflate/.test(ws.extHeader)) return 'extension not negotiated: ' + JSON.stringify(ws.extHeader);
    for (const [payload, binary] of msgs) {
      const p = nextMessage(ws);
      ws.send(payload, { binary });
      const m = await h.withTimeout(p, 20000, 'echo');
      const want = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
      if (m.isBinary !== binary) return 'isBinary ' + m.isBinary;
      if (!want.equals(m.data)) return 'payload differs: got ' + m.data.length + ' bytes, sent ' + want.length;
    }
  } finally {
    ws.terminate();
  }
  return null;
}

async function main() {
  const rep = new h.Report();
  const d = new h.Daemon({ max_frame_size: '16M', max_message_size: '16M', send_buffer_limit: '32M' });
  await d.start();
  let status = 0;
  try {
    const url = d.url('/echo');
    const msgs = [];
    for (const n of [1, 100, 1000, 4096, 65536, 300000]) {
      msgs.push([json(n, n), false]);
      msgs.push([crypto.randomBytes(n), true]);
      msgs.push([Buffer.alloc(n, 7), true]);
    }
    await rep.run('echo with ws defaults (context takeover both ways)', () => echoMany(url, { threshold: 0 }, msgs));
    await rep.run('echo with client_no_context_takeover', () =>
      echoMany(url, { threshold: 0, clientNoContextTakeover: true }, msgs));
    await rep.run('echo with server_max_window_bits=9', () =>
      echoMany(url, { threshold: 0, serverMaxWindowBits: 9 }, msgs));
    await rep.run('echo with client_max_window_bits=9 and server_no_context_takeover', () =>
      echoMany(url, { threshold: 0, clientMaxWindowBits: 9, serverNoContextTakeover: true }, msgs));
    await rep.run('the response carries server_no_context_takeover (the default)', async () => {
      const ws = await open(url);
      ws.terminate();
      if (!/server_no_context_takeover/.test(ws.extHeader)) return 'got ' + JSON.stringify(ws.extHeader);
    });
    await rep.run('a 16 MiB compressed text message (zeros) is echoed', () =>
      echoMany(url, { threshold: 0 }, [['a'.repeat(16 << 20), false]]), 60000);

    // broadcast: compressed and plain subscribers get the same messages
    await rep.run('broadcast to compressed and plain subscribers', async () => {
      const subs = [];
      for (let i = 0; i < 6; i++) subs.push(await open(d.url('/broadcast'), i % 2 ? false : { threshold: 0 }));
      try {
        const payloads = [json(5000, 1), json(20, 2), json(70000, 3)];
        const got = subs.map((ws) => new Promise((resolve) => {
          const seen = [];
          ws.on('message', (data) => { seen.push(data.toString()); if (seen.length === payloads.length) resolve(seen); });
        }));
        for (const p of payloads) subs[0].send(p);
        const all = await h.withTimeout(Promise.all(got), 10000, 'broadcast');
        for (const seen of all) {
          if (seen.join('|') !== payloads.join('|')) return 'a subscriber got different messages';
        }
      } finally {
        subs.forEach((ws) => ws.terminate());
      }
    });
  } finally {
    const err = await d.stop();
    rep.check('daemon exits 0 on SIGTERM', err === null, err);
    if (err) d.dumpStderr();
    status = rep.done();
  }
  process.exit(status);
}

main().catch((e) => { console.log('not ok - ' + ((e && e.stack) || e)); for (const d of h.Daemon.running) { d.kill(); d.dumpStderr(); } process.exit(1); });
