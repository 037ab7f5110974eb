// Where stunnelctl deliberately does not do what stunnel does (README "Deliberate differences from
// stunnel"), the difference itself is asserted, each test naming the README entry it holds to:
// options Node cannot honour are errors; relative paths follow the configuration file; the secure
// cipher default; no window without a listener on reload; a close summary for every connection, also
// on stop; a reply that ends while the TLS client is not reading arrives whole.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { connect as connectTls } from 'node:tls';
import { copyFileSync, mkdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { startBackend, startEchoServer } from '../helpers/echo-server.js';
import type { Backend } from '../helpers/echo-server.js';
import { createPki } from '../helpers/pki.js';
import type { Pki } from '../helpers/pki.js';
import { LOOPBACK, closeServer, getFreePorts, listenOn, portOf } from '../helpers/ports.js';
import { waitFor, withTimeout } from '../helpers/wait.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { ENGINE_KINDS, engineFiles, tryStartEngine } from './support/engines.js';
import type { EngineKind, StartAttempt } from './support/engines.js';
import { lineOf, readExpectations, writeFixture } from './support/fixtures.js';
import type { FixtureVariables } from './support/fixtures.js';
import { isListening, openEchoSession, runSClient, tlsEcho } from './support/peers.js';
import { runScenario } from './support/scenario.js';
import type { PerEngine } from './support/scenario.js';
import { parseStartupErrors } from './support/startup-errors.js';

describe('deliberate differences from stunnel (README), asserted as documented', () => {
  let dir: string;
  let pki: Pki;
  let backend: Backend;
  let shared: FixtureVariables;

  before(async () => {
    dir = realpathSync(makeTempDir('compat-differences'));
    pki = await createPki(dir, 'server');
    backend = await startEchoServer();
    shared = { SERVER_PEM: pki.pemFile, BACKEND_PORT: backend.port };
  });

  after(async () => {
    await backend?.close();
    if (dir !== undefined) removeTempDir(dir);
  });

  /** Starts each engine on `fixture` (in `configDir`, with working directory `cwd`); stops any that started. */
  const attemptBoth = async (
    fixture: string,
    label: string,
    options: { configDir?: (kind: EngineKind) => string; cwd?: string; whenStarted?: (kind: EngineKind, port: number) => Promise<boolean> } = {},
  ): Promise<PerEngine<{ started: boolean; served: boolean | null; code: number | null; stderr: string; configFile: string }>> => {
    const results: Partial<PerEngine<{ started: boolean; served: boolean | null; code: number | null; stderr: string; configFile: string }>> = {};
    const ports = await getFreePorts(ENGINE_KINDS.length);
    for (const [index, kind] of ENGINE_KINDS.entries()) {
      const base = engineFiles(dir, label, kind);
      const configDir = options.configDir?.(kind) ?? dir;
      const files = { ...base, config: join(configDir, `${label}.conf`) };
      const port = ports[index] ?? 0;
      writeFixture(fixture, { ...shared, ACCEPT_PORT: port, LOG_FILE: files.log, PID_FILE: files.pid }, files.config);
      const attempt: StartAttempt = await tryStartEngine(kind, files, options.cwd === undefined ? {} : { cwd: options.cwd });
      if (!attempt.ok) {
        results[kind] = { started: false, served: null, code: attempt.code, stderr: attempt.stderr, configFile: files.config };
        continue;
      }
      try {
        const served = options.whenStarted === undefined ? null : await options.whenStarted(kind, port);
        results[kind] = { started: true, served, code: null, stderr: '', configFile: files.config };
      } finally {
        await attempt.engine.stop();
      }
    }
    return results as PerEngine<{ started: boolean; served: boolean | null; code: number | null; stderr: string; configFile: string }>;
  };

  const echoes = async (_kind: EngineKind, port: number): Promise<boolean> => (await tlsEcho(port, randomBytes(1024))).ok;

  it('"Options Node cannot honour are errors": syslog = yes and socket = l:SO_LINGER are served by stunnel4, refused by stunnelctl at their lines', async () => {
    const fixture = 'unsupported-options.conf';
    const results = await attemptBoth(fixture, 'unsupported', { whenStarted: echoes });
    assert.deepEqual({ started: results.stunnel4.started, served: results.stunnel4.served }, { started: true, served: true }, `stunnel4 serves the file:\n${results.stunnel4.stderr}`);
    const refused = results.stunnelctl;
    assert.equal(refused.started, false, 'stunnelctl must refuse the file');
    assert.equal(refused.code, 1, refused.stderr);
    const errors = parseStartupErrors(refused.stderr);
    const expectedLines = (readExpectations(fixture).get('refused-at') ?? []).map((text) => lineOf(fixture, text));
    assert.deepEqual(errors.map((error) => [error.file, error.line]), expectedLines.map((line) => [refused.configFile, line]), `every refused option at its line, all at once:\n${refused.stderr}`);
    for (const error of errors) assert.match(error.reason, /not supported/, `the reason says it is not supported: ${error.text}`);
  });

  it('"Relative paths are resolved against the configuration file\'s directory": cert = server.pem from another working directory', async () => {
    const configDir = (kind: EngineKind): string => {
      const path = join(dir, `relative-${kind}`);
      mkdirSync(path, { recursive: true });
      copyFileSync(pki.pemFile, join(path, 'server.pem'));
      return path;
    };
    // Working directory: an empty directory; the configuration's directory has a server.pem.
    const emptyDirectory = join(dir, 'empty-working-directory');
    mkdirSync(emptyDirectory, { recursive: true });
    const elsewhere = await attemptBoth('relative-paths.conf', 'relative', { configDir, cwd: emptyDirectory, whenStarted: echoes });
    assert.equal(elsewhere.stunnel4.started, false, 'stunnel4 looks for server.pem in its working directory and fails');
    assert.equal(elsewhere.stunnel4.code, 1);
    assert.match(elsewhere.stunnel4.stderr, /Failed to initialize TLS context/);
    assert.deepEqual({ started: elsewhere.stunnelctl.started, served: elsewhere.stunnelctl.served }, { started: true, served: true }, `stunnelctl finds it beside the configuration:\n${elsewhere.stunnelctl.stderr}`);
    // From the configuration's own directory, both find it.
    for (const kind of ENGINE_KINDS) {
      const here = await attemptBoth('relative-paths.conf', `relative-here-${kind}`, { configDir, cwd: configDir(kind), whenStarted: echoes });
      assert.deepEqual({ started: here[kind].started, served: here[kind].served }, { started: true, served: true }, `${kind} run from the configuration's directory:\n${here[kind].stderr}`);
    }
  });

  describe('"Secure cipher default": TLS 1.2 suites without forward secrecy', () => {
    const STATIC_RSA = 'AES256-GCM-SHA384';
    const FORWARD_SECRET = 'ECDHE-RSA-AES256-GCM-SHA384';
    const offer = (cipher: string) => async ({ acceptPorts }: { acceptPorts: readonly number[] }): Promise<boolean> =>
      (await runSClient(acceptPorts[0] ?? 0, ['-tls1_2', '-cipher', cipher, '-brief'], 'cipher probe\n')).echoed;

    it(`without a ciphers line: ${STATIC_RSA} is accepted by stunnel4 and refused by stunnelctl; ${FORWARD_SECRET} by both`, async () => {
      const staticRsa = await runScenario({ dir, fixture: 'default-ciphers.conf', label: 'ciphers-default-rsa', variables: shared, probe: offer(STATIC_RSA) });
      assert.deepEqual(staticRsa, { stunnel4: true, stunnelctl: false }, `a client offering only ${STATIC_RSA}`);
      const ecdhe = await runScenario({ dir, fixture: 'default-ciphers.conf', label: 'ciphers-default-ecdhe', variables: shared, probe: offer(FORWARD_SECRET) });
      assert.deepEqual(ecdhe, { stunnel4: true, stunnelctl: true }, `a client offering only ${FORWARD_SECRET}`);
    });

    it(`a ciphers line with stunnel's default list restores ${STATIC_RSA} in stunnelctl`, async () => {
      const results = await runScenario({ dir, fixture: 'explicit-ciphers.conf', label: 'ciphers-explicit', variables: shared, probe: offer(STATIC_RSA) });
      assert.deepEqual(results, { stunnel4: true, stunnelctl: true }, `a client offering only ${STATIC_RSA}`);
    });
  });

  it('"No window without a listener on reload": a reload whose new port is busy leaves stunnel4 without listener, stunnelctl serving the old configuration', async () => {
    const busy = await listenOn(0);
    try {
      const results = await runScenario({
        dir, fixture: 'basic-server.conf', label: 'reload-bind-conflict', variables: { ...shared, BUSY_PORT: portOf(busy) },
        probe: async ({ engine, acceptPorts, variables }) => {
          const port = acceptPorts[0] ?? 0;
          const skip = engine.lines().length;
          writeFixture('reload-bind-conflict.conf', variables, engine.files.config);
          await engine.signal('SIGHUP');
          await engine.waitForLine(engine.kind === 'stunnel4' ? /^Binding service \[extra\] failed$/ : /^Failed to reload the configuration file$/, { skip });
          if (engine.kind === 'stunnel4') {
            await waitFor(() => !isListening(port), { what: `stunnel4 to close the listener on ${port}` });
            return { oldListenerServes: false };
          }
          return { oldListenerServes: isListening(port) && (await tlsEcho(port, randomBytes(256))).ok };
        },
      });
      assert.deepEqual(results, { stunnel4: { oldListenerServes: false }, stunnelctl: { oldListenerServes: true } });
    } finally {
      await closeServer(busy);
    }
  });

  it('"Every connection gets its Connection closed|reset line, also when the worker stops": stunnel4 ends it silently', async () => {
    const results = await runScenario({
      dir, fixture: 'basic-server.conf', label: 'stop-close-line', variables: shared,
      probe: async ({ engine, acceptPorts }) => {
        const session = await openEchoSession(acceptPorts[0] ?? 0, {});
        try {
          await session.echo(Buffer.from('held open across the stop\n'));
          await engine.waitForLine(/^s_connect: connected /);
          await engine.stop();
          await session.closed;
        } finally {
          await session.close();
        }
        const [connection] = engine.connections();
        return { accepted: connection?.service ?? null, close: connection?.close?.status ?? null };
      },
    });
    assert.deepEqual(results.stunnel4, { accepted: 'server', close: null }, 'stunnel4 logs no close summary for a connection ended by SIGTERM');
    assert.equal(results.stunnelctl.accepted, 'server');
    assert.ok(results.stunnelctl.close !== null, 'stunnelctl logs a close summary for the connection it ended on SIGTERM');
  });

  describe('"A reply that ends while the TLS client is not reading arrives whole"', () => {
    // The client sends close_notify at once and reads nothing until the backend has written its whole
    // reply and its FIN (or the path is full). stunnel 5.68 then polls its backend socket only for a
    // hangup (its buffer towards TLS is full), takes POLLHUP for the end although the kernel still holds
    // reply bytes, and closes normally without them. Which sizes hit that depends on the kernel's socket
    // buffers, so the sweep covers 64 KiB to 4 MiB; stunnel4's losses are reported, stunnelctl's must be none.
    const SIZES = Array.from({ length: 84 }, (_, index) => 64 * 1024 + index * 48 * 1024);
    const REPLY = Buffer.from(Array.from({ length: (SIZES.at(-1) ?? 0) }, (_, index) => (index * 7 + (index >> 8)) & 0xff));
    /** How long the client waits for the backend to finish before it reads anyway (the path is full). */
    const FULL_PATH_WAIT_MS = 200;
    const READ_TIMEOUT_MS = 20_000;
    /** Then the client still reads nothing for this long: a slow reader is the scenario, not a synchronisation. */
    const CLIENT_THINK_TIME_MS = 50;

    it('a backend reply of 64 KiB to 4 MiB that ends after the client\'s close_notify: stunnelctl delivers every byte', async (t) => {
      // The client's only bytes name the size of the reply; the backend tells the client when it has
      // written the whole reply and its FIN.
      const finishedReply = new Map<number, () => void>();
      const replies = await startBackend((socket) => {
        let head = Buffer.alloc(0);
        let answered = false;
        socket.on('data', (chunk: Buffer) => {
          if (answered) return;
          head = Buffer.concat([head, chunk]);
          if (head.length < 4) return;
          answered = true;
          const size = head.readUInt32BE(0);
          socket.end(REPLY.subarray(0, size), () => finishedReply.get(size)?.());
        });
      });
      try {
        const results = await runScenario({
          dir, fixture: 'basic-server.conf', label: 'reply-after-close-notify', variables: { ...shared, BACKEND_PORT: replies.port },
          probe: async ({ acceptPorts }) => {
            const short: string[] = [];
            for (const size of SIZES) {
              const finished = new Promise<void>((resolve) => finishedReply.set(size, resolve));
              const socket = connectTls({ host: LOOPBACK, port: acceptPorts[0] ?? 0, rejectUnauthorized: false });
              socket.on('error', () => undefined);
              const received: Buffer[] = [];
              try {
                await withTimeout(once(socket, 'secureConnect'), READ_TIMEOUT_MS, 'the TLS handshake');
                socket.pause();
                const request = Buffer.alloc(4);
                request.writeUInt32BE(size, 0);
                socket.end(request);
                await withTimeout(finished, FULL_PATH_WAIT_MS, 'the backend to finish its reply').catch(() => undefined);
                await delay(CLIENT_THINK_TIME_MS);
                socket.on('data', (chunk: Buffer) => received.push(chunk));
                socket.resume();
                await withTimeout(once(socket, 'close'), READ_TIMEOUT_MS, `the end of a ${size}-byte reply`);
              } finally {
                socket.destroy();
              }
              const reply = Buffer.concat(received);
              if (!reply.equals(REPLY.subarray(0, size))) short.push(`${size} -> ${reply.length}`);
            }
            return short;
          },
        });
        t.diagnostic(`stunnel4: ${results.stunnel4.length} of ${SIZES.length} replies cut short${results.stunnel4.length > 0 ? ` (${results.stunnel4.slice(0, 5).join(', ')})` : ''}`);
        assert.deepEqual(results.stunnelctl, [], `stunnelctl cut replies short (size -> bytes received)`);
      } finally {
        await replies.close();
      }
    });
  });
});
