#!/usr/bin/env node
'use strict';
// Echo handler driven by an independent client: Node's ws.

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

function open(url, protocols) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols || [], { perMessageDeflate: false, maxPayload: 0, handshakeTimeout: 5000 });
    ws.on('open', () => resolve(ws));
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

function closeWith(ws, code, reason) {
  return new Promise((resolve) => {
    ws.on('close', (c, r) => resolve({ code: c, reason: r.toString() }));
    ws.close(code, reason);
  });
}

async function echo(url, payload, binary) {
  const ws = await open(url);
  try {
    ws.send(payload, { binary });
    const m = await h.withTimeout(nextMessage(ws), 20000, 'echo');
    if (m.isBinary !== binary) return 'isBinary ' + m.isBinary + ', expected ' + binary;
    const want = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
    if (!want.equals(m.data)) return 'payload differs: got ' + m.data.length + ' bytes, sent ' + want.length;
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
    await rep.run('text message', () => echo(url, 'Hello from node', false));
    await rep.run('binary message', () => echo(url, crypto.randomBytes(300), true));
    await rep.run('empty text message', () => echo(url, '', false));
    await rep.run('empty binary message', () => echo(url, Buffer.alloc(0), true));
    for (const n of [125, 126, 65535, 65536]) {
      await rep.run('text of ' + n + ' bytes', () => echo(url, 'y'.repeat(n), false));
      await rep.run('binary of ' + n + ' bytes', () => echo(url, crypto.randomBytes(n), true));
    }
    await rep.run('binary of 1 MiB', () => echo(url, crypto.randomBytes(1 << 20), true));
    await rep.run('binary of 8 MiB', () => echo(url, crypto.randomBytes(8 << 20), true), 60000);
    await rep.run('text of 4 MiB', () => echo(url, 'z'.repeat(4 << 20), false), 60000);
    await rep.run('unicode text', () => echo(url, 'κόσμε 🚀 ñ 中文', false));

    await rep.run('fragmented text (fin:false sequence) echoed as one message', async () => {
      const ws = await open(url);
      try {
        const p = nextMessage(ws);
        ws.send('part-1 ', { fin: false });
        ws.send('part-2 ', { fin: false });
        ws.send('part-3', { fin: true });
        const m = await h.withTimeout(p, 5000, 'echo');
        if (m.isBinary || m.data.toString() !== 'part-1 part-2 part-3') return 'got ' + JSON.stringify(m.data.toString());
      } finally { ws.terminate(); }
    });
    await rep.run('fragmented binary (50 fragments) echoed as one message', async () => {
      const ws = await open(url);
      try {
        const parts = [];
        for (let i = 0; i < 50; i++) parts.push(crypto.randomBytes(1000 + i));
        const p = nextMessage(ws);
        parts.forEach((b, i) => ws.send(b, { binary: true, fin: i === parts.length - 1 }));
        const m = await h.withTimeout(p, 5000, 'echo');
        if (!m.isBinary || !Buffer.concat(parts).equals(m.data)) return 'payload differs';
      } finally { ws.terminate(); }
    });
    await rep.run('ping with payload -> pong with the same payload', async () => {
      const ws = await open(url);
      try {
        const got = new Promise((resolve) => ws.once('pong', (data) => resolve(data)));
        ws.ping(Buffer.from('node-ping-1'));
        const data = await h.withTimeout(got, 5000, 'pong');
        if (data.toString() !== 'node-ping-1') return 'pong payload ' + JSON.stringify(data.toString());
      } finally { ws.terminate(); }
    });
    for (const code of [1000, 3000, 4999]) {
      await rep.run('close ' + code + ' is echoed', async () => {
        const ws = await open(url);
        const r = await h.withTimeout(closeWith(ws, code, 'node bye'), 5000, 'close');
        if (r.code !== code) return 'server answered close ' + r.code + ' (' + r.reason + ')';
      });
    }
    await rep.run('subprotocol negotiation on /chat', async () => {
      const cases = [[['chat.v1'], 'chat.v1'], [['chat.v1', 'chat.v2'], 'chat.v2'], [['other'], '']];
      for (const [offer, want] of cases) {
        let got;
        try {
          const ws = await open(d.url('/chat'), offer);
          got = ws.protocol;
          ws.terminate();
        } catch (e) {
          // ws refuses a 101 without a protocol when it offered some
          if (!/Server sent no subprotocol/.test(String(e && e.message))) throw e;
          got = '';
        }
        if (got !== want) return 'offered ' + offer + ': got ' + JSON.stringify(got) + ', expected ' + JSON.stringify(want);
      }
    });
    await rep.run('Wshub-Connection-Id in the 101 response', () => new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      ws.on('upgrade', (res) => {
        const id = res.headers['wshub-connection-id'];
        resolve(/^[0-9a-f]{16}$/.test(id || '') ? null : 'header ' + JSON.stringify(id));
        setImmediate(() => ws.terminate());
      });
      ws.on('error', reject);
    }));
  } finally {
    const err = await d.stop();
    rep.check('daemon exits 0 on SIGTERM', err === null, err);
    if (err) d.dumpStderr();
    status = rep.done();
  }
  process.exit(status);
}

main().catch((e) => { console.log('not ok - ' + ((e && e.stack) || e)); for (const d of h.Daemon.running) { d.kill(); d.dumpStderr(); } process.exit(1); });
