#!/usr/bin/env node
'use strict';
// WebSocket over HTTP/2 (RFC 8441) with Node's http2 module as the client:
// it waits for SETTINGS_ENABLE_CONNECT_PROTOCOL, sends the extended CONNECT
// itself, and carries our frames on the stream; several WebSockets share
// one session. The frames are coded here (a few lines; ws has no h2 mode).

const path = require('path');
const crypto = require('crypto');
const http2 = require('http2');
const h = require(path.join(__dirname, 'wshtest.js'));

h.requireDaemon();
h.overallAlarm(120);

function frame(opcode, payload) {
  payload = Buffer.from(payload);
  const mask = crypto.randomBytes(4);
  let head;
  if (payload.length < 126) {
    head = Buffer.from([0x80 | opcode, 0x80 | payload.length]);
  } else if (payload.length < 65536) {
    head = Buffer.alloc(4);
    head[0] = 0x80 | opcode; head[1] = 0x80 | 126; head.writeUInt16BE(payload.length, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = 0x80 | opcode; head[1] = 0x80 | 127; head.writeBigUInt64BE(BigInt(payload.length), 2);
  }
  const body = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i++) body[i] = payload[i] ^ mask[i & 3];
  return Buffer.concat([head, mask, body]);
}

// Frames arriving on |stream|, one promise at a time.
class FrameReader {
  constructor(stream) {
    this.buf = Buffer.alloc(0);
    this.waiters = [];
    this.ended = false;
    stream.on('data', (d) => { this.buf = Buffer.concat([this.buf, d]); this.pump(); });
    stream.on('end', () => { this.ended = true; this.pump(); });
    stream.on('close', () => { this.ended = true; this.pump(); });
  }

  parse() {
    const b = this.buf;
    if (b.length < 2) return null;
    let n = b[1] & 0x7f, hl = 2;
    if (n === 126) { if (b.length < 4) return null; n = b.readUInt16BE(2); hl = 4; }
    else if (n === 127) { if (b.length < 10) return null; n = Number(b.readBigUInt64BE(2)); hl = 10; }
    if (b[1] & 0x80) return { error: 'masked server frame' };
    if (b.length < hl + n) return null;
    const f = { fin: !!(b[0] & 0x80), opcode: b[0] & 0x0f, payload: b.subarray(hl, hl + n) };
    this.buf = b.subarray(hl + n);
    return f;
  }

  pump() {
    while (this.waiters.length) {
      const f = this.parse();
      if (f) { this.waiters.shift().resolve(f); continue; }
      if (this.ended) { this.waiters.shift().resolve(null); continue; }
      break;
    }
  }

  next(ms) {
    const p = new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.pump();
    return h.withTimeout(p, ms || 5000, 'frame');
  }
}

function connectSession(port) {
  return new Promise((resolve, reject) => {
    const s = http2.connect('http://127.0.0.1:' + port);
    s.on('error', reject);
    s.on('remoteSettings', (settings) => resolve({ s, settings }));
  });
}

function openWebSocket(session, port, wsPath, extra) {
  return new Promise((resolve, reject) => {
    const headers = Object.assign({
      ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'http',
      ':path': wsPath, ':authority': '127.0.0.1:' + port, 'sec-websocket-version': '13',
    }, extra || {});
    const stream = session.request(headers, { endStream: false });
    const reader = new FrameReader(stream);
    stream.on('response', (hdrs) => resolve({ stream, reader, hdrs }));
    stream.on('error', reject);
  });
}

async function main() {
  const rep = new h.Report();
  const d = new h.Daemon({});
  await d.start();
  let status = 0;
  try {
    const { s, settings } = await connectSession(d.port);
    await rep.run('the server advertises enableConnectProtocol', () => {
      if (settings.enableConnectProtocol !== true) return JSON.stringify(settings);
    });
    await rep.run('extended CONNECT: 200 with a connection id; echo and ping', async () => {
      const ws = await openWebSocket(s, d.port, '/echo');
      if (ws.hdrs[':status'] !== 200) return 'status ' + ws.hdrs[':status'];
      if (!/^[0-9a-f]{16}$/.test(ws.hdrs['wshub-connection-id'] || '')) return 'no connection id';
      ws.stream.write(frame(1, 'hello from node http2'));
      let f = await ws.reader.next();
      if (!f || f.opcode !== 1 || f.payload.toString() !== 'hello from node http2') return 'echo ' + JSON.stringify(f);
      const big = crypto.randomBytes(200000);
      ws.stream.write(frame(2, big));
      f = await ws.reader.next();
      if (!f || f.opcode !== 2 || !big.equals(f.payload)) return 'binary echo of 200000 bytes differs';
      ws.stream.write(frame(9, 'p1'));
      f = await ws.reader.next();
      if (!f || f.opcode !== 10 || f.payload.toString() !== 'p1') return 'pong ' + JSON.stringify(f);
      const closeBody = Buffer.from([0x03, 0xe8]);
      ws.stream.write(frame(8, closeBody));
      f = await ws.reader.next();
      if (!f || f.opcode !== 8 || f.payload.readUInt16BE(0) !== 1000) return 'close answer ' + JSON.stringify(f);
      ws.stream.end();
      await h.withTimeout(new Promise((r) => ws.stream.on('close', r)), 5000, 'stream close');
      if (ws.stream.rstCode !== 0) return 'stream reset with ' + ws.stream.rstCode;
      if (s.closed || s.destroyed) return 'the session closed with the WebSocket';
    });
    await rep.run('20 WebSockets on one session echo independently', async () => {
      const all = [];
      for (let i = 0; i < 20; i++) all.push(await openWebSocket(s, d.port, '/echo'));
      const ids = new Set(all.map((w) => w.hdrs['wshub-connection-id']));
      if (ids.size !== 20) return 'connection ids not distinct';
      all.forEach((w, i) => w.stream.write(frame(1, 'n' + i)));
      for (let i = 0; i < 20; i++) {
        const f = await all[i].reader.next();
        if (!f || f.payload.toString() !== 'n' + i) return 'stream ' + i + ': ' + JSON.stringify(f);
      }
      all.forEach((w) => w.stream.close());
    });
    await rep.run('unknown :protocol gets 501 and the session lives', async () => {
      const ws = await openWebSocket(s, d.port, '/echo', { ':protocol': 'chat' });
      if (ws.hdrs[':status'] !== 501) return 'status ' + ws.hdrs[':status'];
    });
    await rep.run('GET /healthz on the same session', () => new Promise((resolve) => {
      const r = s.request({ ':path': '/healthz' });
      let body = '';
      r.on('response', (hdrs) => { if (hdrs[':status'] !== 200) resolve('status ' + hdrs[':status']); });
      r.on('data', (c) => { body += c; });
      r.on('end', () => resolve(body.trim() === 'ok' ? null : 'body ' + JSON.stringify(body)));
    }));
    s.close();
  } finally {
    const err = await d.stop();
    rep.check('daemon exits 0 on SIGTERM', err === null, err);
    status = rep.done();
  }
  process.exit(status);
}

main().catch((e) => { console.log('not ok - ' + ((e && e.stack) || e)); for (const d of h.Daemon.running) { d.kill(); d.dumpStderr(); } process.exit(1); });
