// `stop --drain SECONDS`: the worker stops accepting at once, lets live connections finish, and ends
// the ones still open when the drain time is up; a plain `stop` ends them at once.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startEchoServer } from '../helpers/echo-server.js';
import { createHome } from '../helpers/home.js';
import { getFreePort, waitUntilRefusing } from '../helpers/ports.js';
import { formatResult, isProcessAlive, startCli, stopProcess } from '../helpers/processes.js';
import { readLogLines } from '../helpers/stunnel-log.js';
import { openNodeTlsSession } from '../helpers/tls-peers.js';
import { waitFor } from '../helpers/wait.js';

const startedHome = async () => {
  const backend = await startEchoServer();
  const home = await createHome({ acceptPort: await getFreePort(), connectPort: backend.port });
  const start = await home.cli('start');
  assert.equal(start.code, 0, formatResult(start));
  const pid = home.readPidFile();
  assert.ok(pid !== undefined, 'the worker wrote its pid file');
  return { backend, home, pid };
};

describe('stop --drain', () => {
  it('stops accepting at once, keeps a live connection relaying, and exits as soon as it closes', async () => {
    const { backend, home, pid } = await startedHome();
    const session = await openNodeTlsSession(home.acceptPort);
    const stop = startCli(['stop', '--home', home.home, '--drain', '60']);
    try {
      assert.equal((await session.echo('before the drain\n')).toString(), 'before the drain\n');
      await waitFor(() => readLogLines(home.files.log).some((line) => /^Draining 1 connection\(s\) for up to 60 s/.test(line.text)), {
        what: 'the worker to log the start of the drain',
      });
      await waitUntilRefusing(home.acceptPort);
      await session.echo('during the drain\n');
      assert.equal(session.received().toString(), 'before the drain\nduring the drain\n', 'the live connection keeps relaying');
      assert.equal(stop.exitStatus(), undefined, 'stop waits while a connection is live');
      const closedAt = Date.now();
      await session.close();
      const status = await stop.exited;
      assert.equal(status.code, 0, stop.stderr().toString());
      assert.ok(Date.now() - closedAt < 15_000, 'stop returned soon after the last connection closed, not at the 60 s drain limit');
      assert.equal(isProcessAlive(pid), false);
      assert.equal(home.readPidFile(), undefined, 'the pid file is gone');
      const lines = readLogLines(home.files.log).map((line) => line.text);
      assert.ok(lines.includes('Drain finished: 0 connection(s) still open were ended'), lines.join('\n'));
      assert.ok(lines.some((text) => /^Connection closed: \d+ byte\(s\) sent to TLS/.test(text)), 'the drained connection closed cleanly');
    } finally {
      await stopProcess(stop);
      await home.cleanup();
      await backend.close();
    }
  });

  it('ends the connections still open when the drain time is up', async () => {
    const { backend, home, pid } = await startedHome();
    const session = await openNodeTlsSession(home.acceptPort);
    try {
      await session.echo('idle from now on\n');
      const stop = await home.cli('stop', ['--drain', '1']);
      assert.equal(stop.code, 0, formatResult(stop));
      await session.closed;
      assert.equal(isProcessAlive(pid), false);
      const lines = readLogLines(home.files.log).map((line) => line.text);
      assert.ok(lines.includes('Drain finished: 1 connection(s) still open were ended'), lines.join('\n'));
    } finally {
      session.socket.destroy();
      await home.cleanup();
      await backend.close();
    }
  });
});
