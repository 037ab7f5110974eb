// `start` with a worker running and a configuration half-way through an edit: the operator hears
// "already running" (exit 0) and no diagnostics, because the file is only validated for a new worker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { startEchoServer } from '../../helpers/echo-server.js';
import { createHome, type TestHome } from '../../helpers/home.js';
import { getFreePort } from '../../helpers/ports.js';
import { formatResult } from '../../helpers/processes.js';

test('start reports a running worker before validating the configuration', async () => {
  const backend = await startEchoServer();
  let home: TestHome | undefined;
  try {
    home = await createHome({ acceptPort: await getFreePort(), connectPort: backend.port, installArgs: ['--naming', 'posix'] });
    const first = await home.cli('start');
    assert.equal(first.code, 0, formatResult(first));
    const pid = home.readPidFile();
    appendFileSync(home.files.config, '[HALF-EDITED]\n    accept = \n    bogusOption = yes\n');
    const again = await home.cli('start');
    assert.equal(again.code, 0, formatResult(again));
    assert.match(again.stdout, new RegExp(`^already running \\(pid ${pid}, job class \\*STD\\); nothing to do$`, 'm'));
    assert.equal(again.stderr, '', 'no FILE:LINE diagnostics for a file the running worker has not read');
    // The same file does stop a new worker: start validates it once nothing is running.
    const stop = await home.cli('stop');
    assert.equal(stop.code, 0, formatResult(stop));
    const refused = await home.cli('start');
    assert.equal(refused.code, 6, formatResult(refused));
    assert.match(refused.stderr, /stunnel\.conf:\d+: /);
  } finally {
    await home?.cleanup();
    await backend.close();
  }
});
