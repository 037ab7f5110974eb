// Valid configuration files that exercise the syntax (comments, case, inheritance from the global
// part, accumulating and last-wins options, include directories), each served by stunnel4 and by
// stunnelctl in turn: the same connections must pass, and the key log lines (accepted, TLS accepted,
// s_connect: connected, Connection closed with its byte counts) must be the same.
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEchoServer } from '../helpers/echo-server.js';
import type { Backend } from '../helpers/echo-server.js';
import { createPki } from '../helpers/pki.js';
import type { Pki } from '../helpers/pki.js';
import { getFreePort } from '../helpers/ports.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { FIXTURE_DIR, writeFixture } from './support/fixtures.js';
import type { FixtureVariables } from './support/fixtures.js';
import type { ConnectionOutcome } from './support/log-events.js';
import { tlsEcho } from './support/peers.js';
import { assertSameOutcome, closedOutcomes, runScenario } from './support/scenario.js';
import type { ProbeContext } from './support/scenario.js';

const PAYLOAD_BYTES = 4096;

interface Observed {
  /** Per connection, in order: did the echo come back, and over which TLS version. */
  clients: Array<{ ok: boolean; protocol: string | null }>;
  connections: ConnectionOutcome[];
}

/** One TLS echo through each accept port in turn, then the log's view of those connections. */
const echoThroughEveryPort = async ({ engine, acceptPorts }: ProbeContext): Promise<Observed> => {
  const payload = randomBytes(PAYLOAD_BYTES);
  const clients: Observed['clients'] = [];
  for (const port of acceptPorts) {
    const result = await tlsEcho(port, payload);
    clients.push({ ok: result.ok, protocol: result.protocol });
  }
  return { clients, connections: await closedOutcomes(engine, acceptPorts.length) };
};

/** A served, echoed, cleanly closed server-mode connection of `service` to `target`. */
const served = (service: string, target: string): ConnectionOutcome => ({
  service,
  handshake: 'accepted: new session negotiated',
  targets: [target],
  certificate: null,
  redirected: false,
  close: 'closed',
  toTls: PAYLOAD_BYTES,
  toSocket: PAYLOAD_BYTES,
});

/** Renders include.d into `target` plus a subdirectory holding a broken file (stunnel skips non-regular entries). */
const renderIncludeDirectory = (variables: FixtureVariables, target: string): void => {
  mkdirSync(join(target, '15-subdirectory.conf'), { recursive: true });
  writeFileSync(join(target, '15-subdirectory.conf', 'broken.conf'), 'this line has no equals sign\n');
  for (const file of readdirSync(join(FIXTURE_DIR, 'include.d'))) writeFixture(`include.d/${file}`, variables, join(target, file));
};

describe('valid configuration files: stunnel4 and stunnelctl serve them the same way', () => {
  let dir: string;
  let pki: Pki;
  let backend: Backend;
  let shared: FixtureVariables;
  let target: string;

  before(async () => {
    dir = realpathSync(makeTempDir('compat-semantics'));
    pki = await createPki(dir, 'server');
    backend = await startEchoServer();
    target = `127.0.0.1:${backend.port}`;
    shared = { SERVER_PEM: pki.pemFile, BACKEND_PORT: backend.port };
  });

  after(async () => {
    await backend?.close();
    if (dir !== undefined) removeTempDir(dir);
  });

  it('";" and "#" comments, indentation, case-insensitive names and values, a section name with spaces', async () => {
    const results = await runScenario({ dir, fixture: 'valid-comments-and-case.conf', label: 'comments', variables: shared, probe: echoThroughEveryPort });
    assertSameOutcome(results, {
      clients: [{ ok: true, protocol: 'TLSv1.3' }],
      connections: [served('my service 1', target)],
    }, 'comments and case');
  });

  it('global service options are inherited by every section; a section overrides a scalar', async () => {
    const results = await runScenario({
      dir, fixture: 'valid-global-inherited.conf', label: 'inherited', variables: shared, acceptPortCount: 2, probe: echoThroughEveryPort,
    });
    assertSameOutcome(results, {
      clients: [{ ok: true, protocol: 'TLSv1.2' }, { ok: true, protocol: 'TLSv1.3' }],
      connections: [served('inherits', target), served('overrides', target)],
    }, 'inherited global options');
  });

  it('repeated accept lines (one from the global part) all listen; repeated connect lines are tried in order', async () => {
    const deadPort = await getFreePort();
    const results = await runScenario({
      dir, fixture: 'valid-accumulate.conf', label: 'accumulate', variables: { ...shared, DEAD_PORT: deadPort }, acceptPortCount: 3, probe: echoThroughEveryPort,
    });
    assertSameOutcome(results, {
      clients: [{ ok: true, protocol: 'TLSv1.3' }, { ok: true, protocol: 'TLSv1.3' }, { ok: true, protocol: 'TLSv1.3' }],
      connections: [served('multi', target), served('multi', target), served('multi', target)],
    }, 'accumulating accept and connect');
  });

  it('a scalar given twice: the last line wins', async () => {
    const results = await runScenario({
      dir, fixture: 'valid-last-wins.conf', label: 'last-wins', variables: { ...shared, MISSING_FILE: join(dir, 'no-such-cert.pem') }, probe: echoThroughEveryPort,
    });
    assertSameOutcome(results, {
      clients: [{ ok: true, protocol: 'TLSv1.3' }],
      connections: [served('svc', target)],
    }, 'last scalar wins');
  });

  it('the same accept address twice (global part and section): served, as the service bound at least once', async () => {
    const results = await runScenario({ dir, fixture: 'valid-duplicate-accept.conf', label: 'duplicate-accept', variables: shared, probe: echoThroughEveryPort });
    assertSameOutcome(results, {
      clients: [{ ok: true, protocol: 'TLSv1.3' }],
      connections: [served('twice', target)],
    }, 'a duplicated accept address');
  });

  it('include = DIR: the regular files of DIR in alphabetical order (a subdirectory is skipped), then the rest of the main file', async () => {
    const results = await runScenario({
      dir, fixture: 'valid-include.conf', label: 'include', variables: shared, acceptPortCount: 3,
      prepare: (_kind, variables) => renderIncludeDirectory(variables, String(variables.INCLUDE_DIR)),
      probe: echoThroughEveryPort,
    });
    assertSameOutcome(results, {
      clients: [{ ok: true, protocol: 'TLSv1.3' }, { ok: true, protocol: 'TLSv1.3' }, { ok: true, protocol: 'TLSv1.3' }],
      connections: [served('first', target), served('second', target), served('after', target)],
    }, 'include directory');
  });
});

