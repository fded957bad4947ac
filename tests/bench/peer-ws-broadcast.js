// peer-ws-broadcast.js: a Node `ws` broadcast server, the benchmark's peer:
// every message from a client goes to every other open client.
//
// usage: node peer-ws-broadcast.js PORT   (NODE_PATH=/usr/share/nodejs)
'use strict';

const { WebSocketServer, WebSocket } = require('ws');

const port = parseInt(process.argv[2] || '0', 10);
const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: port,
  backlog: 511,
  perMessageDeflate: false,
  clientTracking: true,
  maxPayload: 16 * 1024 * 1024,
});

wss.on('connection', (ws) => {
  ws.on('error', () => {});
  ws.on('message', (data, isBinary) => {
    for (const c of wss.clients) {
      if (c !== ws && c.readyState === WebSocket.OPEN)
        c.send(data, { binary: isBinary });
    }
  });
});

wss.on('listening', () => {
  process.stdout.write('listening ' + wss.address().port + '\n');
});

const stop = () => { wss.close(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
