// The signal-driven log lines operators monitor, on stunnel4 and stunnelctl: SIGHUP with a broken
// file (`Failed to reload the configuration file`, the old service keeps serving), SIGUSR1 after the
// log was renamed (`Log file reopened` is the first line of the new file), SIGUSR2 (`Active
// connections:` ... `Listed N active connection(s)` at level 0); and the configuration file named by
// its absolute path in `Reading configuration from file`.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, realpathSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { startEchoServer } from '../helpers/echo-server.js';
import type { Backend } from '../helpers/echo-server.js';
import { createPki } from '../helpers/pki.js';
import type { Pki } from '../helpers/pki.js';
import { getFreePorts } from '../helpers/ports.js';
import { readLogLines } from '../helpers/stunnel-log.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import { ENGINE_KINDS, engineFiles, withEngine } from './support/engines.js';
import { writeFixture } from './support/fixtures.js';
import type { FixtureVariables } from './support/fixtures.js';
import { openEchoSession, tlsEcho } from './support/peers.js';
import { assertSameOutcome, runScenario } from './support/scenario.js';
import type { PerEngine } from './support/scenario.js';

/** stunnel's housekeeping threads (5.68: cron; 5.69+: per-second/minute/day) log on their own schedule. */
const HOUSEKEEPING_IDS = new Set(['cron', 'per-second', 'per-minute', 'per-day']);

describe('signals and their log lines: stunnel4 and stunnelctl agree', () => {
  let dir: string;
  let pki: Pki;
  let backend: Backend;
  let shared: FixtureVariables;

  before(async () => {
    dir = realpathSync(makeTempDir('compat-signals'));
    pki = await createPki(dir, 'server');
    backend = await startEchoServer();
    shared = { SERVER_PEM: pki.pemFile, BACKEND_PORT: backend.port };
  });

  after(async () => {
    await backend?.close();
    if (dir !== undefined) removeTempDir(dir);
  });

  it('SIGHUP with a broken file: "Failed to reload the configuration file" and the old service keeps serving', async () => {
    const results = await runScenario({
      dir, fixture: 'basic-server.conf', label: 'failed-reload', variables: shared,
      probe: async ({ engine, acceptPorts }) => {
        appendFileSync(engine.files.config, 'this line has no equals sign\n');
        const skip = engine.lines().length;
        await engine.signal('SIGHUP');
        const failed = await engine.waitForLine(/^Failed to reload the configuration file$/, { skip });
        const noEquals = engine.lines().slice(skip).some((line) => line.text.endsWith(`: "this line has no equals sign": No '=' found`));
        const after = await tlsEcho(acceptPorts[0] ?? 0, randomBytes(256));
        const [record] = await engine.waitForClosed(1);
        return { failedLevel: failed.level, noEquals, servesAfter: after.ok, service: record?.service ?? null };
      },
    });
    assertSameOutcome(results, { failedLevel: 3, noEquals: true, servesAfter: true, service: 'server' }, 'a reload of a broken file');
  });

  it('SIGUSR1 after renaming the log: "Log file reopened" is the first line of the new file (housekeeping threads aside), nothing is lost', async () => {
    const results = await runScenario({
      dir, fixture: 'basic-server.conf', label: 'reopen', variables: shared,
      probe: async ({ engine, acceptPorts }) => {
        await engine.accepting();
        const archived = `${engine.files.log}.archived`;
        renameSync(engine.files.log, archived);
        await engine.signal('SIGUSR1');
        await engine.waitForLine(/^Log file reopened$/);
        // stunnel's cron thread may log into the new file first: only the main thread's lines count.
        const first = readLogLines(engine.files.log).find((line) => !HOUSEKEEPING_IDS.has(line.id));
        const echoed = await tlsEcho(acceptPorts[0] ?? 0, randomBytes(256));
        const [record] = await engine.waitForClosed(1);
        return {
          firstLine: first === undefined ? null : { level: first.level, text: first.text },
          archivedStillHasStartup: readLogLines(archived).some((line) => /^Configuration successful$/.test(line.text)),
          reopenedOnlyInNewFile: !readLogLines(archived).some((line) => line.text === 'Log file reopened'),
          newConnectionLoggedInNewFile: echoed.ok && record?.close?.status === 'closed',
        };
      },
    });
    assertSameOutcome(results, {
      firstLine: { level: 5, text: 'Log file reopened' },
      archivedStillHasStartup: true,
      reopenedOnlyInNewFile: true,
      newConnectionLoggedInNewFile: true,
    }, 'SIGUSR1');
  });

  it('SIGUSR2 with one connection open: "Active connections:", one "Active connection" line, "Listed 1 active connection(s)", all at level 0', async () => {
    const results = await runScenario({
      dir, fixture: 'basic-server.conf', label: 'dump', variables: shared,
      probe: async ({ engine, acceptPorts }) => {
        const session = await openEchoSession(acceptPorts[0] ?? 0, {});
        try {
          await session.echo(Buffer.from('12345'));
          await engine.waitForLine(/^Service \[server\] connected remote server from /);
          const skip = engine.lines().length;
          await engine.signal('SIGUSR2');
          await engine.waitForLine(/^Listed \d+ active connection\(s\)$/, { skip });
          const dump = engine.lines().slice(skip).filter((line) => /^(Active connection|Listed )/.test(line.text));
          return dump.map((line) => ({
            level: line.level,
            // stunnelctl appends id, peer, target, TLS version, age to the connection line (SPEC: log-conn); stunnel's part must lead.
            text: line.text.replace(/^(Active connection \d+: Service \[[^\]]*\], \d+ byte\(s\) sent to TLS, \d+ byte\(s\) sent to socket).*$/, '$1'),
          }));
        } finally {
          await session.close();
        }
      },
    });
    assertSameOutcome(results, [
      { level: 0, text: 'Active connections:' },
      { level: 0, text: 'Active connection 1: Service [server], 5 byte(s) sent to TLS, 5 byte(s) sent to socket' },
      { level: 0, text: 'Listed 1 active connection(s)' },
    ], 'SIGUSR2');
  });

  it('"Reading configuration from file" names the absolute path, also when started with a relative one', async () => {
    const ports = await getFreePorts(ENGINE_KINDS.length);
    const results: Partial<PerEngine<string | null>> = {};
    for (const [index, kind] of ENGINE_KINDS.entries()) {
      const files = engineFiles(dir, 'relative-argument', kind);
      writeFixture('basic-server.conf', { ...shared, ACCEPT_PORT: ports[index] ?? 0, LOG_FILE: files.log, PID_FILE: files.pid }, files.config);
      const relative = { ...files, config: `./relative-argument-${kind}.conf` };
      results[kind] = await withEngine(kind, relative, async (engine) => {
        const line = await waitFor(() => engine.lines().find((entry) => entry.text.startsWith('Reading configuration from ')), { what: `${kind}: the Reading configuration line` });
        return line.text;
      }, { cwd: dir });
    }
    const expected = (kind: string): string => `Reading configuration from file ${join(dir, `relative-argument-${kind}.conf`)}`;
    assert.equal(results.stunnel4, expected('stunnel4'), 'stunnel4 (the reference)');
    assert.equal(results.stunnelctl, expected('stunnelctl'), 'stunnelctl names the configuration file by its absolute path');
  });
});
