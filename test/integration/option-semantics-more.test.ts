// More options shown on the wire: checkEmail, NO_TICKET and the session cache size, renegotiation,
// local (source address), IPV6_V6ONLY on the listener, and SO_KEEPALIVE on the accepted socket.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { connect as connectNet, createServer, type Socket } from 'node:net';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { startEchoServer, type Backend } from '../helpers/echo-server.js';
import { getFreePorts } from '../helpers/ports.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import { createCertificateAuthority, issueLeaf, readKeyPair, type CertificateFiles } from './support/certificates.js';
import { GLOBAL_LINES, startEngine } from './support/engine.js';
import { startTlsBackend } from './support/peers.js';

interface Handshake {
  reused: boolean;
  session: Buffer | undefined;
  ticket: Buffer | undefined;
}

/** A TLS 1.2 handshake (optionally resuming `session`); resolves once the session is known. */
const handshake12 = (port: number, session?: Buffer): Promise<Handshake> =>
  new Promise((resolve, reject) => {
    let latest: Buffer | undefined;
    const socket = connectTls({ host: '127.0.0.1', port, rejectUnauthorized: false, maxVersion: 'TLSv1.2', ...(session === undefined ? {} : { session }) }, () => {
      const result = { reused: socket.isSessionReused(), session: latest ?? socket.getSession(), ticket: socket.getTLSTicket() };
      socket.end();
      resolve(result);
    });
    socket.on('session', (value: Buffer) => {
      latest = value;
    });
    socket.on('error', reject);
  });

/** A plain client of a client-mode service: what the TLS backend sent back, after a half-close. */
const plainRoundTrip = (port: number): Promise<string> =>
  new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connectNet(port, '127.0.0.1', () => socket.end());
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString()));
  });

describe('option semantics (more)', () => {
  let dir: string;
  let backend: Backend;
  let ca: CertificateFiles;
  let server: CertificateFiles;

  before(async () => {
    dir = makeTempDir('options-more');
    backend = await startEchoServer();
    ca = await createCertificateAuthority(dir);
    server = await issueLeaf(dir, ca, 'server', 'server.example', 'DNS:server.example,email:ops@example.org');
  });
  after(async () => {
    await backend?.close();
    removeTempDir(dir);
  });

  const serve = async (name: string, global: readonly string[], service: readonly string[] = [], accept = '127.0.0.1') => {
    const [acceptPort] = (await getFreePorts(1)) as [number];
    const running = await startEngine({
      dir, name,
      config: [...GLOBAL_LINES, ...global, `[${name}]`, `accept = ${accept}:${acceptPort}`, `connect = 127.0.0.1:${backend.port}`, `cert = ${server.pemFile}`, ...service],
    });
    return { running, acceptPort };
  };

  it('checkEmail accepts a backend certificate with that email SAN and refuses another', async () => {
    const tlsBackend = await startTlsBackend({ ...readKeyPair(server), reply: Buffer.from('verified\n') });
    try {
      for (const [name, email, expected] of [['email-right', 'ops@example.org', 'verified\n'], ['email-wrong', 'root@example.org', '']] as const) {
        const [acceptPort] = (await getFreePorts(1)) as [number];
        const running = await startEngine({
          dir, name,
          config: [...GLOBAL_LINES, `[${name}]`, 'client = yes', `accept = 127.0.0.1:${acceptPort}`, `connect = 127.0.0.1:${tlsBackend.port}`, 'verifyChain = yes', `CAfile = ${ca.certFile}`, `checkEmail = ${email}`],
        });
        try {
          assert.equal(await plainRoundTrip(acceptPort), expected, `checkEmail = ${email}`);
        } finally {
          running.stop();
        }
      }
    } finally {
      await tlsBackend.close();
    }
  });

  it('options = NO_TICKET sends no TLS 1.2 ticket, and the session cache (sessionCacheSize = 1) then resumes only the newest session', async () => {
    const { running, acceptPort } = await serve('no-ticket', [], ['options = NO_TICKET', 'sessionCacheSize = 1']);
    try {
      const first = await handshake12(acceptPort);
      assert.equal(first.ticket, undefined, 'no session ticket with NO_TICKET');
      assert.equal((await handshake12(acceptPort, first.session)).reused, true, 'resumed from the server-side cache');
      const second = await handshake12(acceptPort);
      assert.equal((await handshake12(acceptPort, second.session)).reused, true, 'the newest session resumes');
      assert.equal((await handshake12(acceptPort, first.session)).reused, false, 'the older one was evicted from a cache of one');
    } finally {
      running.stop();
    }
    const tickets = await serve('tickets', []);
    try {
      assert.notEqual((await handshake12(tickets.acceptPort)).ticket, undefined, 'by default a TLS 1.2 client gets a ticket');
    } finally {
      tickets.running.stop();
    }
  });

  it('renegotiation = no refuses a TLS 1.2 client-initiated renegotiation that the default allows', async () => {
    const attempt = async (lines: readonly string[], name: string): Promise<Error | null> => {
      const { running, acceptPort } = await serve(name, [], lines);
      try {
        return await new Promise<Error | null>((resolve) => {
          const socket: TLSSocket = connectTls({ host: '127.0.0.1', port: acceptPort, rejectUnauthorized: false, maxVersion: 'TLSv1.2' }, () => {
            socket.renegotiate({ rejectUnauthorized: false }, (error) => {
              socket.destroy();
              resolve(error ?? null);
            });
            // The renegotiation handshake only runs while data moves.
            socket.write('x');
          });
          socket.on('error', (error) => resolve(error));
          socket.on('data', () => undefined);
        });
      } finally {
        running.stop();
      }
    };
    assert.equal(await attempt([], 'reneg-default'), null, 'renegotiation succeeds by default');
    assert.notEqual(await attempt(['renegotiation = no'], 'reneg-no'), null, 'renegotiation = no refuses it');
  });

  it('local = 127.0.0.2 is the source address of the connection to the target', async () => {
    const seen: string[] = [];
    const target = createServer((socket: Socket) => {
      socket.on('error', () => undefined);
      seen.push(socket.remoteAddress ?? '');
      socket.end('ok\n');
    });
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    const address = target.address();
    const targetPort = typeof address === 'object' && address !== null ? address.port : 0;
    const [acceptPort] = (await getFreePorts(1)) as [number];
    const running = await startEngine({
      dir, name: 'local',
      config: [...GLOBAL_LINES, '[local]', `accept = 127.0.0.1:${acceptPort}`, `connect = 127.0.0.1:${targetPort}`, `cert = ${server.pemFile}`, 'local = 127.0.0.2'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const socket = connectTls({ host: '127.0.0.1', port: acceptPort, rejectUnauthorized: false }, () => undefined);
        socket.on('data', () => socket.end());
        socket.on('close', () => resolve());
        socket.on('error', reject);
      });
      assert.deepEqual(seen, ['127.0.0.2']);
    } finally {
      running.stop();
      target.close();
    }
  });

  it('a:IPV6_V6ONLY=yes on accept = :: refuses IPv4 clients that the dual-stack default accepts', async () => {
    const reachableOverIpv4 = async (name: string, lines: readonly string[]): Promise<boolean> => {
      const { running, acceptPort } = await serve(name, [], lines, '::');
      try {
        return await new Promise<boolean>((resolve) => {
          const socket = connectNet(acceptPort, '127.0.0.1', () => {
            socket.destroy();
            resolve(true);
          });
          socket.on('error', () => resolve(false));
        });
      } finally {
        running.stop();
      }
    };
    assert.equal(await reachableOverIpv4('dual-stack', []), true);
    assert.equal(await reachableOverIpv4('v6only', ['socket = a:IPV6_V6ONLY=yes']), false);
  });

  it('socket = a:SO_KEEPALIVE=120 (the BS2000 form) turns on TCP keep-alive with a 120 s timer on accepted sockets', async () => {
    const { running, acceptPort } = await serve('keepalive', [], ['socket = a:SO_KEEPALIVE=120']);
    const socket = connectTls({ host: '127.0.0.1', port: acceptPort, rejectUnauthorized: false });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', () => resolve());
        socket.once('error', reject);
      });
      const localPort = socket.localPort ?? 0;
      // ss shows the worker's accepted socket (source port = acceptPort, peer = our port) with its timer.
      const line = await waitFor(() => {
        const out = execFileSync('ss', ['-tnoH', 'state', 'established', `( sport = :${acceptPort} and dport = :${localPort} )`], { encoding: 'utf8' });
        return out.includes('keepalive') ? out : undefined;
      }, { what: 'ss to show the keep-alive timer of the accepted socket', timeoutMs: 5_000 });
      // ss prints the time left, e.g. `timer:(keepalive,1min59sec,0)`: set to 120 s, so over 60 and at most 120.
      const match = /timer:\(keepalive,(?:(\d+)min)?(?:(\d+(?:\.\d+)?)sec)?/.exec(line);
      const seconds = Number(match?.[1] ?? 0) * 60 + Number(match?.[2] ?? 0);
      assert.ok(seconds > 60 && seconds <= 120, line);
    } finally {
      socket.destroy();
      running.stop();
    }
  });
});
