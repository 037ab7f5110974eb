// exec+connect (`client = yes`, `exec`, `connect`, no `accept`): the program starts with the engine,
// its stdout reaches the TLS target and the target's reply reaches its stdin; `retry` restarts it
// after each connection.
import { after, before, describe, it } from 'node:test';
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
});
