#!/usr/bin/env node
// A plain TCP echo server for the demo (stands in for the MT9750 host application on port 102).
// Usage: echo-backend.mjs HOST PORT PIDFILE
import { createServer } from 'node:net';
import { writeFileSync, unlinkSync } from 'node:fs';

const [host = '127.0.0.1', port = '10102', pidFile] = process.argv.slice(2);
const server = createServer({ allowHalfOpen: true }, (socket) => {
  socket.on('error', () => socket.destroy());
  socket.pipe(socket);
});
server.listen(Number(port), host, () => {
  if (pidFile) writeFileSync(pidFile, `${process.pid}\n`);
});
const stop = () => {
  if (pidFile) {
    try { unlinkSync(pidFile); } catch { /* already gone */ }
  }
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
