// exec+connect (`client = yes`, `exec`, `connect`, no `accept`): the program starts with the engine,
// its stdout reaches the TLS target and the target's reply reaches its stdin; `retry` restarts it
// after each connection.
import { after, before, describe, it } from 'node:test';
import { createServer, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import { createSelfSigned, readKeyPair } from './support/certificates.js';
import { GLOBAL_LINES, startEngine } from './support/engine.js';
import { startTlsBackend, type TlsBackend } from './support/peers.js';

describe('exec+connect', () => {
  let dir: string;
  let backend: TlsBackend;
  let program: string;
  let replies: string;

  before(async () => {
    dir = makeTempDir('exec-connect');
    const server = await createSelfSigned(dir, 'server', 'server.example');
    backend = await startTlsBackend({ ...readKeyPair(server), reply: Buffer.from('pong\n') });
    replies = join(dir, 'replies.txt');
    program = join(dir, 'program.sh');
    // Sends a line, then records the reply that came back over TLS.
    writeFileSync(program, `#!/bin/sh\necho "ping $$"\nread reply\necho "$reply" >> ${replies}\n`);
    chmodSync(program, 0o755);
  });
  after(async () => {
    await backend?.close();
    removeTempDir(dir);
  });

  it('relays the program over TLS to the target and restarts it after each connection (retry)', async () => {
    const running = await startEngine({
      dir,
      name: 'exec-connect',
      config: [...GLOBAL_LINES, '[loop]', 'client = yes', `exec = ${program}`, `connect = 127.0.0.1:${backend.port}`, 'retry = 100'],
    });
    try {
      const replyLines = (): string[] => (existsSync(replies) ? readFileSync(replies, 'utf8').split('\n').filter(Boolean) : []);
      await waitFor(() => replyLines().length >= 3, { what: 'three runs of the program, each answered over TLS', timeoutMs: 15_000 });
      assert.ok(replyLines().every((line) => line === 'pong'), replyLines().join('|'));
      const first = await backend.received(0);
      assert.ok(first.bytes >= 'ping 1\n'.length && first.bytes <= 'ping 4194304\n'.length, `the program's line reached the target (${first.bytes} bytes)`);
      assert.ok(running.lines().some((line) => /^Service \[loop\] started program .*program\.sh \(pid \d+\)$/.test(line.text)));
      assert.ok(running.lines().some((line) => /^Service \[loop\]: Retrying an exec\+connect section in 100 ms$/.test(line.text)));
    } finally {
      // Stopping clears the retry timer: a timer left behind would keep this test file from exiting.
      running.stop();
    }
  });

  it('in server mode speaks TLS as the server on the outgoing connection: the target is the TLS client', async () => {
    // The target accepts TCP and then runs a TLS *client* handshake over it, sending a line.
    const received: string[] = [];
    const target = createServer((raw: Socket) => {
      raw.on('error', () => undefined);
      const tls = connectTls({ socket: raw, rejectUnauthorized: false }, () => tls.write('from the tls client\n'));
      tls.on('error', () => undefined);
      tls.on('data', (chunk: Buffer) => {
        received.push(chunk.toString());
        tls.end();
      });
    });
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    const address = target.address();
    const targetPort = typeof address === 'object' && address !== null ? address.port : 0;
    const server = await createSelfSigned(dir, 'exec-server', 'exec-server.example');
    const echo = join(dir, 'reply.sh');
    // Reads the client's line from stdin, answers on stdout.
    writeFileSync(echo, '#!/bin/sh\nread line\necho "program got: $line"\n');
    chmodSync(echo, 0o755);
    const running = await startEngine({
      dir,
      name: 'exec-connect-server',
      config: [...GLOBAL_LINES, '[reverse]', `exec = ${echo}`, `connect = 127.0.0.1:${targetPort}`, `cert = ${server.pemFile}`],
    });
    try {
      await waitFor(() => received.join('').includes('\n') || undefined, { what: 'the program\'s answer at the TLS client', timeoutMs: 10_000 });
      assert.equal(received.join(''), 'program got: from the tls client\n');
      assert.ok(running.lines().some((line) => line.text === 'TLS accepted: new session negotiated'), 'the engine was the TLS server');
    } finally {
      running.stop();
      target.close();
    }
  });
});
