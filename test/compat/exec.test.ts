// inetd-style `exec`/`execArgs` in server mode, on stunnel4 and on stunnelctl: the TLS client talks to
// the program (here `sed -u s/ping/pong/`, so execArgs visibly reach it). What stunnelctl does not
// implement yet - exec together with connect, and exec in a client section - it refuses with a
// FILE:LINE error while stunnel4 runs the same file.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { existsSync, realpathSync } from 'node:fs';
import { startEchoServer } from '../helpers/echo-server.js';
import type { Backend } from '../helpers/echo-server.js';
import { createPki } from '../helpers/pki.js';
import type { Pki } from '../helpers/pki.js';
import { getFreePorts } from '../helpers/ports.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { engineFiles, tryStartEngine } from './support/engines.js';
import type { EngineKind } from './support/engines.js';
import { lineOf, readExpectations, writeFixture } from './support/fixtures.js';
import type { FixtureVariables } from './support/fixtures.js';
import { outcomeOf } from './support/log-events.js';
import { tlsEcho } from './support/peers.js';
import { assertSameOutcome, runScenario } from './support/scenario.js';
import { parseStartupErrors } from './support/startup-errors.js';

const SED = ['/usr/bin/sed', '/bin/sed'].find((path) => existsSync(path)) ?? '/usr/bin/sed';

describe('exec and execArgs: stunnel4 and stunnelctl agree; the parts not implemented are refused', () => {
  let dir: string;
  let pki: Pki;
  let backend: Backend;
  let shared: FixtureVariables;

  before(async () => {
    dir = realpathSync(makeTempDir('compat-exec'));
    pki = await createPki(dir, 'server');
    backend = await startEchoServer();
    shared = { SERVER_PEM: pki.pemFile, SED, BACKEND_PORT: backend.port };
  });

  after(async () => {
    await backend?.close();
    if (dir !== undefined) removeTempDir(dir);
  });

  it('exec = sed, execArgs = sed -u s/ping/pong/: the TLS client talks to the program', async () => {
    const results = await runScenario({
      dir, fixture: 'exec.conf', label: 'exec', variables: shared,
      probe: async ({ engine, acceptPorts }) => {
        const result = await tlsEcho(acceptPorts[0] ?? 0, Buffer.from('ping\n'), { expect: Buffer.from('pong\n') });
        const [record] = await engine.waitForClosed(1);
        return { ok: result.ok, received: result.received.toString('latin1'), outcome: record === undefined ? null : outcomeOf(record) };
      },
    });
    assertSameOutcome(results, {
      ok: true,
      received: 'pong\n',
      outcome: { service: 'exec', handshake: 'accepted: new session negotiated', targets: [], certificate: null, redirected: false, close: 'closed', toTls: 5, toSocket: 5 },
    }, 'exec');
  });

  it('exec-connect.conf: stunnel4 and stunnelctl both run an exec+connect service (client mode)', async () => {
    const [stunnelPort, stunnelctlPort] = (await getFreePorts(2)) as [number, number];
    for (const [kind, port] of [['stunnel4', stunnelPort], ['stunnelctl', stunnelctlPort]] as const) {
      const files = engineFiles(dir, 'exec-connect', kind);
      writeFixture('exec-connect.conf', { ...shared, ACCEPT_PORT: port, LOG_FILE: files.log, PID_FILE: files.pid }, files.config);
      const started = await tryStartEngine(kind, files);
      assert.ok(started.ok, `${kind} runs exec-connect.conf: ${started.ok ? '' : started.stderr}`);
      // The backend is plain, so the program's TLS connection fails; the engine must outlive it.
      await started.engine.waitForLine(/^Connection (reset|closed)/);
      assert.equal(started.engine.process.exitStatus(), undefined, `${kind} keeps running after its exec+connect connection ended`);
      await started.engine.stop();
    }
  });

  for (const fixture of ['exec-client.conf'] as const) {
    const section = readExpectations(fixture).get('refused-section')?.[0] ?? '';
    it(`${fixture}: stunnel4 runs it; stunnelctl refuses it with FILE:LINE naming [${section}] or its exec line`, async () => {
      const [stunnelPort, stunnelctlPort] = (await getFreePorts(2)) as [number, number];
      const attempt = async (kind: EngineKind, port: number) => {
        const files = engineFiles(dir, fixture.replace(/\.conf$/, ''), kind);
        writeFixture(fixture, { ...shared, ACCEPT_PORT: port, LOG_FILE: files.log, PID_FILE: files.pid }, files.config);
        const started = await tryStartEngine(kind, files);
        if (started.ok) await started.engine.stop();
        return { started, configFile: files.config };
      };
      const reference = await attempt('stunnel4', stunnelPort);
      assert.ok(reference.started.ok, `stunnel4 runs ${fixture}: ${reference.started.ok ? '' : reference.started.stderr}`);
      const { started, configFile } = await attempt('stunnelctl', stunnelctlPort);
      assert.ok(!started.ok, `stunnelctl must refuse ${fixture}`);
      assert.equal(started.code, 1, started.stderr);
      const [first] = parseStartupErrors(started.stderr);
      assert.ok(first !== undefined, `no error on stderr:\n${started.stderr}`);
      assert.equal(first.file, configFile, `the error names the file:\n${started.stderr}`);
      assert.ok(
        [lineOf(fixture, `[${section}]`), lineOf(fixture, 'exec = ')].includes(first.line ?? -1),
        `the error names the [${section}] line or the exec line:\n${started.stderr}`,
      );
      assert.match(first.reason, /exec/, `the reason is about exec:\n${started.stderr}`);
    });
  }
});
