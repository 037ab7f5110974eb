// Where a connection goes, decided the same way by stunnel4 and stunnelctl: SNI selects a secondary
// section (its own certificate and backend), failover rr spreads over three backends and prio sticks
// to the first alive one, redirect sends a client without a valid certificate elsewhere, protocol =
// proxy puts a PROXY v1 header in front of the data, and an IPv6 `accept = ::1:PORT` listens.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { startEchoServer } from '../helpers/echo-server.js';
import type { Backend } from '../helpers/echo-server.js';
import { getFreePort } from '../helpers/ports.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { outcomeOf } from './support/log-events.js';
import type { ConnectionOutcome } from './support/log-events.js';
import { plainEcho, startRecordingBackend, tlsEcho } from './support/peers.js';
import type { RecordingBackend } from './support/peers.js';
import { createCompatPki } from './support/pki.js';
import type { CompatPki } from './support/pki.js';
import { assertSameOutcome, closedOutcomes, runScenario } from './support/scenario.js';
import type { ProbeContext } from './support/scenario.js';

const PAYLOAD_BYTES = 1024;

/** Connections each backend received during `body`. */
const countDuring = async (backends: readonly Backend[], body: () => Promise<void>): Promise<number[]> => {
  const before = backends.map((backend) => backend.connectionCount());
  await body();
  return backends.map((backend, index) => backend.connectionCount() - (before[index] ?? 0));
};

const served = (service: string, target: string, bytes = PAYLOAD_BYTES): ConnectionOutcome => ({
  service, handshake: 'accepted: new session negotiated', targets: [target], certificate: null, redirected: false, close: 'closed', toTls: bytes, toSocket: bytes,
});

describe('routing: SNI, failover, redirect, PROXY header, IPv6 - stunnel4 and stunnelctl agree', () => {
  let dir: string;
  let pki: CompatPki;
  const backends: Backend[] = [];

  before(async () => {
    dir = realpathSync(makeTempDir('compat-routing'));
    pki = await createCompatPki(dir);
    for (let index = 0; index < 3; index += 1) backends.push(await startEchoServer());
  });

  after(async () => {
    for (const backend of backends) await backend.close();
    if (dir !== undefined) removeTempDir(dir);
  });

  const backend = (index: number): Backend => {
    const found = backends[index];
    if (found === undefined) throw new Error(`no backend ${index}`);
    return found;
  };
  const targetOf = (index: number): string => `127.0.0.1:${backend(index).port}`;

  /** Six TLS echoes one after the other; the connections each backend got, and each one's target. */
  const sixOverThree = async ({ engine, acceptPorts }: ProbeContext): Promise<{ counts: number[]; targets: string[] }> => {
    const counts = await countDuring(backends, async () => {
      for (let index = 0; index < 6; index += 1) {
        const result = await tlsEcho(acceptPorts[0] ?? 0, randomBytes(PAYLOAD_BYTES));
        assert.ok(result.ok, `${engine.kind}: connection ${index}: ${result.error}`);
      }
    });
    return { counts, targets: (await closedOutcomes(engine, 6)).map((connection) => connection.targets.join(',')) };
  };

  it('sni = primary:*.example.org: a name under example.org reaches the secondary section\'s certificate and backend; others the primary', async () => {
    const names = ['host.example.org', 'other.example.com', null] as const;
    const results = await runScenario({
      dir, fixture: 'sni.conf', label: 'sni',
      variables: { SERVER_PEM: pki.serverRsa.pemFile, BACKEND_PORT: backend(0).port, SECONDARY_PEM: pki.secondary.pemFile, SECONDARY_BACKEND_PORT: backend(1).port },
      probe: async ({ engine, acceptPorts }) => {
        const clients: Array<{ name: string | null; ok: boolean; certificate: string | null; backends: number[] }> = [];
        for (const name of names) {
          let result: Awaited<ReturnType<typeof tlsEcho>> | undefined;
          const counts = await countDuring([backend(0), backend(1)], async () => {
            result = await tlsEcho(acceptPorts[0] ?? 0, randomBytes(PAYLOAD_BYTES), name === null ? {} : { servername: name });
          });
          clients.push({ name, ok: result?.ok ?? false, certificate: result?.peerCommonName ?? null, backends: counts });
        }
        return { clients, connections: await closedOutcomes(engine, names.length) };
      },
    });
    assertSameOutcome(results, {
      clients: [
        { name: 'host.example.org', ok: true, certificate: 'secondary.example.org', backends: [0, 1] },
        { name: 'other.example.com', ok: true, certificate: 'localhost', backends: [1, 0] },
        { name: null, ok: true, certificate: 'localhost', backends: [1, 0] },
      ],
      connections: [served('primary', targetOf(1)), served('primary', targetOf(0)), served('primary', targetOf(0))],
    }, 'SNI routing');
  });

  it('failover = rr over three backends: six connections, two to each, in rotation', async () => {
    const results = await runScenario({
      dir, fixture: 'failover-rr.conf', label: 'failover-rr',
      variables: { SERVER_PEM: pki.serverRsa.pemFile, BACKEND_1_PORT: backend(0).port, BACKEND_2_PORT: backend(1).port, BACKEND_3_PORT: backend(2).port },
      probe: async (context) => {
        const { counts, targets } = await sixOverThree(context);
        // Where the rotation starts is random in stunnel; that it rotates is not.
        const rotation = [targetOf(0), targetOf(1), targetOf(2)];
        const start = rotation.indexOf(targets[0] ?? '');
        const rotates = start !== -1 && targets.every((target, index) => target === rotation[(start + index) % 3]);
        return { counts, rotates };
      },
    });
    assertSameOutcome(results, { counts: [2, 2, 2], rotates: true }, 'failover = rr');
  });

  it('failover = prio: every connection goes to the first target that accepts (the first one refuses)', async () => {
    const deadPort = await getFreePort();
    const results = await runScenario({
      dir, fixture: 'failover-prio.conf', label: 'failover-prio',
      variables: { SERVER_PEM: pki.serverRsa.pemFile, DEAD_PORT: deadPort, BACKEND_1_PORT: backend(0).port, BACKEND_2_PORT: backend(1).port },
      probe: async ({ engine, acceptPorts }) => {
        const counts = await countDuring([backend(0), backend(1)], async () => {
          for (let index = 0; index < 3; index += 1) {
            const result = await tlsEcho(acceptPorts[0] ?? 0, randomBytes(PAYLOAD_BYTES));
            assert.ok(result.ok, `${engine.kind}: connection ${index}: ${result.error}`);
          }
        });
        return { counts, connections: await closedOutcomes(engine, 3) };
      },
    });
    assertSameOutcome(results, {
      counts: [3, 0],
      connections: [served('priority', targetOf(0)), served('priority', targetOf(0)), served('priority', targetOf(0))],
    }, 'failover = prio');
  });

  it('redirect: a client without a valid certificate goes to the redirect target, a good one to connect', async () => {
    const certificates = { good: pki.client, wrong: pki.wrong, missing: undefined } as const;
    const results = await runScenario({
      dir, fixture: 'redirect.conf', label: 'redirect',
      variables: { SERVER_PEM: pki.serverRsa.pemFile, BACKEND_PORT: backend(0).port, REDIRECT_PORT: backend(1).port, CA_FILE: pki.ca.certFile },
      probe: async ({ engine, acceptPorts }) => {
        const clients: Array<{ certificate: string; ok: boolean; backends: number[] }> = [];
        for (const [name, files] of Object.entries(certificates)) {
          let ok = false;
          const counts = await countDuring([backend(0), backend(1)], async () => {
            const result = await tlsEcho(acceptPorts[0] ?? 0, randomBytes(PAYLOAD_BYTES), files === undefined ? {} : { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) });
            ok = result.ok;
          });
          clients.push({ certificate: name, ok, backends: counts });
        }
        const connections = (await engine.waitForClosed(3)).map((record) => {
          const { service, targets, redirected, close } = outcomeOf(record);
          return { service, targets, redirected, close };
        });
        return { clients, connections };
      },
    });
    assertSameOutcome(results, {
      clients: [
        { certificate: 'good', ok: true, backends: [1, 0] },
        { certificate: 'wrong', ok: true, backends: [0, 1] },
        { certificate: 'missing', ok: true, backends: [0, 1] },
      ],
      connections: [
        { service: 'redirect', targets: [targetOf(0)], redirected: false, close: 'closed' },
        { service: 'redirect', targets: [targetOf(1)], redirected: true, close: 'closed' },
        { service: 'redirect', targets: [targetOf(1)], redirected: true, close: 'closed' },
      ],
    }, 'redirect');
  });

  it('failover = rr with delay = yes: the delayed resolver makes it prio, every connection to the first target', async () => {
    const results = await runScenario({
      dir, fixture: 'failover-rr-delay.conf', label: 'failover-rr-delay',
      variables: { SERVER_PEM: pki.serverRsa.pemFile, BACKEND_1_PORT: backend(0).port, BACKEND_2_PORT: backend(1).port, BACKEND_3_PORT: backend(2).port },
      probe: async (context) => {
        const { engine } = context;
        const { counts } = await sixOverThree(context);
        const failoverLines = engine.lines().filter((line) => line.text.startsWith('failover: ')).map((line) => `LOG${line.level}: ${line.text}`);
        return { counts, failoverLines: [...new Set(failoverLines)], failoverLineCount: failoverLines.length };
      },
    });
    assertSameOutcome(results, { counts: [6, 0, 0], failoverLines: ['LOG6: failover: priority, starting at entry #0'], failoverLineCount: 6 }, 'failover = rr with delay = yes');
  });

  it('redirect with failover = rr over three redirect targets: six unauthenticated clients, two to each, in rotation', async () => {
    const connectBackend = await startEchoServer();
    try {
      const results = await runScenario({
        dir, fixture: 'redirect-rr.conf', label: 'redirect-rr',
        variables: {
          SERVER_PEM: pki.serverRsa.pemFile, CA_FILE: pki.ca.certFile, BACKEND_PORT: connectBackend.port,
          REDIRECT_1_PORT: backend(0).port, REDIRECT_2_PORT: backend(1).port, REDIRECT_3_PORT: backend(2).port,
        },
        probe: async ({ engine, acceptPorts }) => {
          const wrong = { cert: readFileSync(pki.wrong.certFile), key: readFileSync(pki.wrong.keyFile) };
          const counts = await countDuring([...backends, connectBackend], async () => {
            for (let index = 0; index < 6; index += 1) {
              const result = await tlsEcho(acceptPorts[0] ?? 0, randomBytes(PAYLOAD_BYTES), wrong);
              assert.ok(result.ok, `${engine.kind}: connection ${index}: ${result.error}`);
            }
          });
          const targets = (await closedOutcomes(engine, 6)).map((connection) => connection.targets.join(','));
          const rotation = [targetOf(0), targetOf(1), targetOf(2)];
          const start = rotation.indexOf(targets[0] ?? '');
          return { counts, rotates: start !== -1 && targets.every((target, index) => target === rotation[(start + index) % 3]) };
        },
      });
      assertSameOutcome(results, { counts: [2, 2, 2, 0], rotates: true }, 'redirect with failover = rr');
    } finally {
      await connectBackend.close();
    }
  });

  it('redirect: the lines of a redirected client, in stunnel\'s order (no error line for a missing certificate; "Redirecting connection" after the handshake)', async () => {
    const results = await runScenario({
      dir, fixture: 'redirect.conf', label: 'redirect-lines',
      variables: { SERVER_PEM: pki.serverRsa.pemFile, BACKEND_PORT: backend(0).port, REDIRECT_PORT: backend(1).port, CA_FILE: pki.ca.certFile },
      probe: async ({ engine, acceptPorts }) => {
        for (const files of [pki.wrong, undefined]) {
          const result = await tlsEcho(acceptPorts[0] ?? 0, randomBytes(PAYLOAD_BYTES), files === undefined ? {} : { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) });
          assert.ok(result.ok, `${engine.kind}: ${result.error}`);
        }
        const records = await engine.waitForClosed(2);
        const shown = /^(TLS accepted|Redirecting connection|Rejected by CERT|CERT: Pre-verification|SSL_accept|Peer certificate)/;
        return records.map((record) => engine.lines().filter((line) => line.id === record.id && shown.test(line.text)).map((line) => `LOG${line.level}: ${line.text}`));
      },
    });
    assertSameOutcome(results, [
      [
        'LOG6: Peer certificate required',
        'LOG4: CERT: Pre-verification error: self-signed certificate',
        'LOG4: Rejected by CERT at depth=0: CN=wrong',
        'LOG6: TLS accepted: new session negotiated',
        'LOG5: Redirecting connection',
      ],
      ['LOG6: Peer certificate required', 'LOG6: TLS accepted: new session negotiated', 'LOG5: Redirecting connection'],
    ], 'the lines of redirected clients');
  });

  describe('protocol = proxy', () => {
    let recording: RecordingBackend;

    before(async () => {
      recording = await startRecordingBackend({ skipFirstLine: true });
    });

    after(async () => {
      await recording?.close();
    });

    it('the backend receives "PROXY TCP4 <client> <proxy> <client port> <accept port>\\r\\n" before the client\'s bytes', async () => {
      const results = await runScenario({
        dir, fixture: 'proxy-protocol.conf', label: 'proxy',
        variables: { SERVER_PEM: pki.serverRsa.pemFile, BACKEND_PORT: recording.port },
        probe: async ({ engine, acceptPorts }) => {
          const index = recording.connectionCount();
          const payload = randomBytes(PAYLOAD_BYTES);
          const result = await tlsEcho(acceptPorts[0] ?? 0, payload);
          const [connection] = await closedOutcomes(engine, 1);
          const received = recording.received(index);
          const headerEnd = received.indexOf('\r\n');
          const header = received.subarray(0, headerEnd + 2).toString('latin1');
          const expectedHeader = `PROXY TCP4 127.0.0.1 127.0.0.1 ${result.localPort} ${acceptPorts[0] ?? 0}\r\n`;
          return {
            ok: result.ok,
            headerMatches: header === expectedHeader ? true : header,
            dataAfterHeader: received.subarray(headerEnd + 2).equals(payload),
            bytes: [connection?.toTls, connection?.toSocket],
          };
        },
      });
      assertSameOutcome(results, { ok: true, headerMatches: true, dataAfterHeader: true, bytes: [PAYLOAD_BYTES, PAYLOAD_BYTES] }, 'protocol = proxy');
    });
  });

  it('Unix-domain sockets: stunnel\'s names for them in the log (localhost:PATH, unnamed socket) and its levels', async () => {
    const socketDir = join(dir, 'sockets');
    mkdirSync(socketDir, { recursive: true });
    const unixBackendPath = join(socketDir, 'backend.sock');
    const unixBackend = createNetServer((socket) => {
      socket.on('error', () => undefined);
      socket.pipe(socket);
    });
    await new Promise<void>((resolve) => unixBackend.listen(unixBackendPath, resolve));
    try {
      const results = await runScenario({
        dir, fixture: 'unix-sockets.conf', label: 'unix-sockets', acceptPortCount: 2,
        variables: { SERVER_PEM: pki.serverRsa.pemFile, BACKEND_PORT: backend(0).port, SOCKET_DIR: socketDir, UNIX_BACKEND: unixBackendPath },
        probe: async ({ engine, acceptPorts }) => {
          const overPath = await tlsEcho(0, randomBytes(PAYLOAD_BYTES), { path: join(socketDir, `in-${acceptPorts[0] ?? 0}.sock`) });
          const toPath = await tlsEcho(acceptPorts[1] ?? 0, randomBytes(PAYLOAD_BYTES));
          await engine.waitForClosed(2);
          const shown = /(bound to localhost:|accepted connection from unnamed|connect(ing|ed) localhost:|connected remote server from unnamed)/;
          const lines = engine.lines().filter((line) => shown.test(line.text))
            .map((line) => `LOG${line.level}: ${line.text.replace(socketDir, 'DIR').replace(/in-\d+\.sock/, 'in-PORT.sock').replace(/\(FD=\d+\) /, '')}`);
          return { ok: [overPath.ok, toPath.ok], lines: lines.sort() };
        },
      });
      assertSameOutcome(results, {
        ok: [true, true],
        lines: [
          'LOG5: Service [unix in] accepted connection from unnamed socket',
          'LOG5: Service [unix out] connected remote server from unnamed socket',
          'LOG6: Service [unix in] bound to localhost:DIR/in-PORT.sock',
          'LOG6: s_connect: connected localhost:DIR/backend.sock',
          'LOG6: s_connect: connecting localhost:DIR/backend.sock',
        ],
      }, 'Unix-domain sockets');
    } finally {
      await new Promise((resolve) => unixBackend.close(resolve));
    }
  });

  it('connect = localhost:PORT: the name is resolved and the address logged; in client mode the name is still the SNI', async () => {
    const names: string[] = [];
    const tlsBackend = createTlsServer({ cert: readFileSync(pki.serverRsa.certFile), key: readFileSync(pki.serverRsa.keyFile) }, (socket) => {
      names.push(String(socket.servername));
      socket.on('error', () => undefined);
      socket.pipe(socket);
    });
    await new Promise<void>((resolve) => tlsBackend.listen(0, '127.0.0.1', resolve));
    const tlsPort = (tlsBackend.address() as { port: number }).port;
    try {
      const results = await runScenario({
        dir, fixture: 'connect-by-name.conf', label: 'connect-by-name', acceptPortCount: 2,
        variables: { SERVER_PEM: pki.serverRsa.pemFile, BACKEND_PORT: backend(0).port, TLS_BACKEND_PORT: tlsPort },
        probe: async ({ engine, acceptPorts }) => {
          const before = names.length;
          const served = await tlsEcho(acceptPorts[0] ?? 0, randomBytes(PAYLOAD_BYTES));
          const sent = await plainEcho(acceptPorts[1] ?? 0, randomBytes(PAYLOAD_BYTES));
          await engine.waitForClosed(2);
          const lines = engine.lines().filter((line) => /^(s_connect: |SNI: )/.test(line.text))
            .map((line) => `LOG${line.level}: ${line.text.replace(`:${backend(0).port}`, ':BACKEND').replace(`:${tlsPort}`, ':TLS_BACKEND')}`);
          return { ok: [served.ok, sent.ok], serverNames: names.slice(before), lines };
        },
      });
      assertSameOutcome(results, {
        ok: [true, true],
        serverNames: ['localhost'],
        lines: [
          'LOG6: s_connect: connecting 127.0.0.1:BACKEND',
          'LOG5: s_connect: connected 127.0.0.1:BACKEND',
          'LOG6: s_connect: connecting 127.0.0.1:TLS_BACKEND',
          'LOG5: s_connect: connected 127.0.0.1:TLS_BACKEND',
          'LOG6: SNI: sending servername: localhost',
        ],
      }, 'connect by host name');
    } finally {
      await new Promise((resolve) => tlsBackend.close(resolve));
    }
  });

  it('accept = ::1:PORT listens on the IPv6 loopback', async () => {
    const results = await runScenario({
      dir, fixture: 'ipv6.conf', label: 'ipv6', acceptHost: '::1',
      variables: { SERVER_PEM: pki.serverRsa.pemFile, BACKEND_PORT: backend(0).port },
      probe: async ({ engine, acceptPorts }) => {
        const result = await tlsEcho(acceptPorts[0] ?? 0, randomBytes(PAYLOAD_BYTES), { host: '::1' });
        const [record] = await engine.waitForClosed(1);
        return { ok: result.ok, peer: record?.peer?.replace(/\d+$/, 'PORT') ?? null, outcome: record === undefined ? null : outcomeOf(record) };
      },
    });
    assertSameOutcome(results, { ok: true, peer: '::1:PORT', outcome: served('ipv6', targetOf(0)) }, 'IPv6 accept');
  });
});
