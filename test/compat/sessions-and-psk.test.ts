// Session resumption reported as `TLS accepted: previous session reused` by both stunnel4 and
// stunnelctl: the session-ID cache (TLS 1.2, s_client -no_ticket -sess_out/-sess_in), TLS 1.2
// tickets, TLS 1.3 tickets (the client reads until the ticket arrives before it closes), and across a
// restart when ticketKeySecret/ticketMacSecret fix the ticket keys; and PSKsecrets with the right and
// a wrong key (s_client -psk).
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { startEchoServer } from '../helpers/echo-server.js';
import type { Backend } from '../helpers/echo-server.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { engineFiles, ENGINE_KINDS, startEngine } from './support/engines.js';
import type { EngineKind } from './support/engines.js';
import { writeFixture } from './support/fixtures.js';
import { groupConnections } from './support/log-events.js';
import type { FixtureVariables } from './support/fixtures.js';
import { plainEcho, runSClient, tlsEcho } from './support/peers.js';
import { createCompatPki } from './support/pki.js';
import type { CompatPki } from './support/pki.js';
import { acceptPortVariables, assertSameOutcome, runScenario } from './support/scenario.js';
import type { PerEngine, ProbeContext } from './support/scenario.js';
import { LOOPBACK, closeServer, getFreePorts, portOf } from '../helpers/ports.js';
import { createServer as createTlsServer } from 'node:tls';

const PAYLOAD_BYTES = 512;
const NEW = 'accepted: new session negotiated';
const REUSED = 'accepted: previous session reused';

/** s_client's own verdict on a session: `New, TLSv1.2, Cipher is ...` / `Reused, TLSv1.2, ...`. */
const sClientVerdict = (stdout: string): string | null => /^(New|Reused), (TLSv1\.[23])/m.exec(stdout)?.slice(1, 3).join(' ') ?? null;

describe('session resumption and PSK: stunnel4 and stunnelctl agree', () => {
  let dir: string;
  let pki: CompatPki;
  let backend: Backend;
  let shared: FixtureVariables;

  before(async () => {
    dir = realpathSync(makeTempDir('compat-sessions'));
    pki = await createCompatPki(dir);
    backend = await startEchoServer();
    shared = { SERVER_PEM: pki.serverRsa.pemFile, BACKEND_PORT: backend.port };
  });

  after(async () => {
    await backend?.close();
    if (dir !== undefined) removeTempDir(dir);
  });

  /** Two s_client runs, the second resuming the session the first saved; each engine's handshakes. */
  const sClientTwice = (label: string, args: readonly string[]) => async ({ engine, acceptPorts }: ProbeContext) => {
    const sessionFile = join(dir, `${label}-${engine.kind}.session`);
    const first = await runSClient(acceptPorts[0] ?? 0, [...args, '-sess_out', sessionFile], 'first connection\n');
    const saved = existsSync(sessionFile);
    const second = await runSClient(acceptPorts[0] ?? 0, [...args, '-sess_in', sessionFile], 'second connection\n');
    const connections = await engine.waitForClosed(2);
    return {
      echoed: [first.echoed, second.echoed],
      saved,
      client: [sClientVerdict(first.stdout), sClientVerdict(second.stdout)],
      server: connections.map((connection) => connection.handshake),
    };
  };

  it('TLS 1.2 session-ID cache (s_client -no_ticket -sess_out / -sess_in): the second connection is reported as "previous session reused"', async () => {
    const results = await runScenario({ dir, fixture: 'session-cache.conf', label: 'session-id', variables: shared, probe: sClientTwice('session-id', ['-tls1_2', '-no_ticket']) });
    assertSameOutcome(results, { echoed: [true, true], saved: true, client: ['New TLSv1.2', 'Reused TLSv1.2'], server: [NEW, REUSED] }, 'the TLS 1.2 session cache');
  });

  it('TLS 1.2 session tickets (s_client -sess_out / -sess_in): the second connection is reported as "previous session reused"', async () => {
    const results = await runScenario({ dir, fixture: 'session-cache.conf', label: 'ticket-12', variables: shared, probe: sClientTwice('ticket-12', ['-tls1_2']) });
    assertSameOutcome(results, { echoed: [true, true], saved: true, client: ['New TLSv1.2', 'Reused TLSv1.2'], server: [NEW, REUSED] }, 'TLS 1.2 tickets');
  });

  it('TLS 1.3 session tickets (a Node client waits for the ticket, then resumes with it): "previous session reused"', async () => {
    const results = await runScenario({
      dir, fixture: 'session-cache.conf', label: 'ticket-13', variables: shared,
      probe: async ({ engine, acceptPorts }) => {
        const port = acceptPorts[0] ?? 0;
        const first = await tlsEcho(port, randomBytes(PAYLOAD_BYTES), { minVersion: 'TLSv1.3', waitForSession: true });
        const second = await tlsEcho(port, randomBytes(PAYLOAD_BYTES), { minVersion: 'TLSv1.3', ...(first.session === null ? {} : { session: first.session }) });
        const connections = await engine.waitForClosed(2);
        return { ok: [first.ok, second.ok], ticket: first.session !== null, reused: [first.reused, second.reused], server: connections.map((connection) => connection.handshake) };
      },
    });
    assertSameOutcome(results, { ok: [true, true], ticket: true, reused: [false, true], server: [NEW, REUSED] }, 'TLS 1.3 tickets');
  });

  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    it(`ticketKeySecret/ticketMacSecret: a ${version} ticket from before a restart resumes after it`, async () => {
      const secrets = { TICKET_KEY_SECRET: randomBytes(32).toString('hex'), TICKET_MAC_SECRET: randomBytes(32).toString('hex') };
      const ports = await getFreePorts(ENGINE_KINDS.length);
      const results: Partial<PerEngine<unknown>> = {};
      for (const [index, kind] of ENGINE_KINDS.entries()) {
        results[kind] = await resumeAcrossRestart(kind, ports[index] ?? 0, version, { ...shared, ...secrets });
      }
      assertSameOutcome(results as PerEngine<unknown>, { ok: [true, true], reused: [false, true], server: [[NEW], [REUSED]] }, `${version} tickets across a restart`);
    });
  }

  /** One connection (keeping its ticket), stop, start again on the same file, resume. */
  const resumeAcrossRestart = async (kind: EngineKind, port: number, version: 'TLSv1.2' | 'TLSv1.3', variables: FixtureVariables) => {
    const files = engineFiles(dir, `restart-${version}`, kind);
    writeFixture('session-ticket-secrets.conf', { ...variables, ...acceptPortVariables([port]), LOG_FILE: files.log, PID_FILE: files.pid }, files.config);
    const tls = { minVersion: version, maxVersion: version } as const;
    const server: string[][] = [];
    let engine = await startEngine(kind, files);
    let first: Awaited<ReturnType<typeof tlsEcho>>;
    try {
      first = await tlsEcho(port, randomBytes(PAYLOAD_BYTES), { ...tls, waitForSession: true });
      server.push((await engine.waitForClosed(1)).map((connection) => connection.handshake ?? 'none'));
    } finally {
      await engine.stop();
    }
    const linesBefore = engine.lines().length;
    engine = await startEngine(kind, files);
    try {
      const second = await tlsEcho(port, randomBytes(PAYLOAD_BYTES), { ...tls, ...(first.session === null ? {} : { session: first.session }) });
      // Connection ids start again at 0 in the restarted process, appending to the same log: only its own lines count.
      await engine.waitForLine(/^Connection (closed|reset)/, { skip: linesBefore });
      server.push(groupConnections(engine.lines().slice(linesBefore)).map((connection) => connection.handshake ?? 'none'));
      return { ok: [first.ok, second.ok], reused: [first.reused, second.reused], server };
    } finally {
      await engine.stop();
    }
  };

  describe('PSKsecrets (s_client -psk)', () => {
    const identity = 'compat-client';
    const key = randomBytes(32).toString('hex');

    /** A PSKsecrets file in the temp directory with `secretsKey` for the identity; its path. */
    const writePskSecrets = (name: string, secretsKey: string): string => {
      const secrets = join(dir, name);
      writeFixture('psk-secrets.txt', { PSK_IDENTITY: identity, PSK_KEY: secretsKey }, secrets);
      return secrets;
    };

    const pskVariables = (): FixtureVariables => ({ BACKEND_PORT: backend.port, PSK_SECRETS_FILE: writePskSecrets('psk-secrets.txt', key) });

    for (const version of ['tls1_2', 'tls1_3'] as const) {
      it(`${version}: the right key passes, a wrong key fails`, async () => {
        const results = await runScenario({
          dir, fixture: 'psk.conf', label: `psk-${version}`, variables: pskVariables(),
          probe: async ({ engine, acceptPorts }) => {
            const port = acceptPorts[0] ?? 0;
            const right = await runSClient(port, [`-${version}`, '-brief', '-psk_identity', identity, '-psk', key], 'right key\n');
            const wrong = await runSClient(port, [`-${version}`, '-brief', '-psk_identity', identity, '-psk', randomBytes(32).toString('hex')], 'wrong key\n');
            const connections = await engine.waitForClosed(2);
            return {
              echoed: [right.echoed, wrong.echoed],
              server: connections.map((connection) => ({ handshake: connection.handshake, close: connection.close?.status === 'closed' ? 'closed' : 'reset' })),
            };
          },
        });
        const handshake = results.stunnel4.server[0]?.handshake ?? null;
        assert.ok(handshake !== null && handshake.startsWith('accepted: '), `stunnel4 logs the PSK handshake: ${JSON.stringify(results.stunnel4)}`);
        assertSameOutcome(results, {
          echoed: [true, false],
          server: [{ handshake, close: 'closed' }, { handshake: null, close: 'reset' }],
        }, `PSK over ${version}`);
      });
    }

    // Client mode: the engine is the PSK client of a Node TLS server that knows only the PSK (no
    // certificate), three connections in a row, then a file with another key for the same identity.
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      it(`client mode, ${version}: three connections in a row pass with the right key, none with a wrong one`, async () => {
        const server = createTlsServer({
          minVersion: version, maxVersion: version, ciphers: version === 'TLSv1.2' ? 'PSK' : 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384',
          pskCallback: (_socket, id) => (id === identity ? Buffer.from(key, 'hex') : null),
        }, (socket) => {
          socket.on('error', () => socket.destroy());
          socket.pipe(socket);
        });
        server.on('tlsClientError', () => undefined);
        await new Promise<void>((resolve) => server.listen({ port: 0, host: LOOPBACK }, resolve));
        try {
          const inARow = (label: string, secretsKey: string) => runScenario({
            dir, fixture: 'client-psk.conf', label: `client-psk-${label}-${version}`,
            variables: { TLS_BACKEND_PORT: portOf(server), PSK_SECRETS_FILE: writePskSecrets(`client-psk-${label}.txt`, secretsKey), TLS_VERSION: version },
            probe: async ({ engine, acceptPorts }: ProbeContext) => {
              const ok: boolean[] = [];
              for (let index = 0; index < 3; index += 1) ok.push((await plainEcho(acceptPorts[0] ?? 0, randomBytes(PAYLOAD_BYTES))).ok);
              const connections = await engine.waitForClosed(3);
              return {
                ok,
                // Once per full handshake: TLS 1.2 resumes its session afterwards (once per engine process here).
                configured: engine.lines().some((line) => line.text === `PSK client configured for identity "${identity}"`),
                closes: connections.map((connection) => connection.close?.status ?? null),
              };
            },
          });
          const right = await inARow('right', key);
          assertSameOutcome(right, { ok: [true, true, true], configured: true, closes: ['closed', 'closed', 'closed'] }, `client-mode PSK over ${version}`);
          const wrong = await inARow('wrong', randomBytes(32).toString('hex'));
          assert.deepEqual(
            { stunnel4: wrong.stunnel4.ok, stunnelctl: wrong.stunnelctl.ok },
            { stunnel4: [false, false, false], stunnelctl: [false, false, false] },
            `a wrong key fails for both: ${JSON.stringify(wrong)}`,
          );
        } finally {
          await closeServer(server);
        }
      });
    }
  });
});
