// How a connection ends, and the close summary stunnel writes for it, on stunnel4 and stunnelctl: a
// clean close in both directions (`Connection closed`), an idle timeout (`Connection reset`), a
// half-closed connection whose backend goes quiet (TIMEOUTclose, `Connection closed`), a target
// that refuses, a client that speaks plain text to the TLS port, and a peer that resets its TCP
// connection mid-relay (stunnel closes the other side in order). The status word and both byte
// counts are compared exactly: log monitoring matches on them.
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { connect as connectTls } from 'node:tls';
import { connect as connectTcp } from 'node:net';
import type { Socket } from 'node:net';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { startBackend, startEchoServer } from '../helpers/echo-server.js';
import type { Backend } from '../helpers/echo-server.js';
import { createPki } from '../helpers/pki.js';
import type { Pki } from '../helpers/pki.js';
import { LOOPBACK, getFreePort } from '../helpers/ports.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { openEchoSession, plainEcho, tlsEcho } from './support/peers.js';
import { assertSameOutcome, runScenario } from './support/scenario.js';

const PAYLOAD_BYTES = 3000;

describe('connection endings and their close summaries: stunnel4 and stunnelctl agree', () => {
  let dir: string;
  let pki: Pki;
  let backend: Backend;

  before(async () => {
    dir = realpathSync(makeTempDir('compat-endings'));
    pki = await createPki(dir, 'server');
    backend = await startEchoServer();
  });

  after(async () => {
    await backend?.close();
    if (dir !== undefined) removeTempDir(dir);
  });

  it('a clean close after an echo: "Connection closed: N byte(s) sent to TLS, N byte(s) sent to socket"', async () => {
    const results = await runScenario({
      dir, fixture: 'basic-server.conf', label: 'clean-close', variables: { SERVER_PEM: pki.pemFile, BACKEND_PORT: backend.port },
      probe: async ({ engine, acceptPorts }) => {
        const result = await tlsEcho(acceptPorts[0] ?? 0, randomBytes(PAYLOAD_BYTES));
        const [record] = await engine.waitForClosed(1);
        return { ok: result.ok, close: record?.close ?? null };
      },
    });
    assertSameOutcome(results, { ok: true, close: { status: 'closed', toTls: PAYLOAD_BYTES, toSocket: PAYLOAD_BYTES } }, 'a clean close');
  });

  /** The lines of a connection from its handshake on, as `LOGn: text`, without the connect lines. */
  const relayLines = (engine: Parameters<Parameters<typeof runScenario>[0]['probe']>[0]['engine'], id: string): string[] =>
    engine.lines()
      .filter((line) => line.id === id && /^(TLS fd|socket fd|writesocket|readsocket|TLS socket closed|TLS closed|Read socket closed|SSL_read|SSL_write|Connection )/.test(line.text))
      .map((line) => `LOG${line.level}: ${line.text.replace(/\d+ byte\(s\)/g, 'N byte(s)')}`);

  it('the backend resets mid-relay: the TLS client gets an orderly end, "socket fd: Connection reset by peer (104)", "Connection closed"', async () => {
    // The backend takes the client's bytes, then resets its connection a moment later.
    const resetting = await startBackend((socket: Socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => setTimeout(() => socket.resetAndDestroy(), 100));
    });
    try {
      const results = await runScenario({
        dir, fixture: 'basic-server.conf', label: 'backend-reset', variables: { SERVER_PEM: pki.pemFile, BACKEND_PORT: resetting.port },
        probe: async ({ engine, acceptPorts }) => {
          const client = connectTls({ host: LOOPBACK, port: acceptPorts[0] ?? 0, rejectUnauthorized: false });
          const ended = new Promise<string>((resolve) => {
            client.on('error', (error: NodeJS.ErrnoException) => resolve(`error ${error.code ?? error.message}`));
            client.on('close', () => resolve('closed'));
          });
          await once(client, 'secureConnect');
          client.write(randomBytes(10));
          const how = await Promise.race([ended, delay(5000).then(() => 'still open')]);
          client.destroy();
          const [record] = await engine.waitForClosed(1);
          return { client: how, lines: relayLines(engine, record?.id ?? '') };
        },
      });
      assertSameOutcome(results, {
        client: 'closed',
        lines: ['LOG6: socket fd: Connection reset by peer (104)', 'LOG6: writesocket: Socket is closed', 'LOG5: Connection closed: N byte(s) sent to TLS, N byte(s) sent to socket'],
      }, 'a backend that resets');
    } finally {
      await resetting.close();
    }
  });

  it('the TLS client resets mid-relay: the backend gets an orderly end, "TLS fd: Connection reset by peer (104)", "Connection closed"', async () => {
    let backendSaw: Promise<string> = Promise.resolve('no connection');
    const watching = await startBackend((socket: Socket) => {
      backendSaw = new Promise((resolve) => {
        socket.on('error', (error: NodeJS.ErrnoException) => resolve(`error ${error.code ?? error.message}`));
        socket.on('end', () => {
          resolve('end');
          socket.end();
        });
        socket.resume();
      });
    });
    try {
      const results = await runScenario({
        dir, fixture: 'basic-server.conf', label: 'client-reset', variables: { SERVER_PEM: pki.pemFile, BACKEND_PORT: watching.port },
        probe: async ({ engine, acceptPorts }) => {
          // The TCP socket is the test's own, so that it can be reset under the TLS client.
          const raw = connectTcp({ host: LOOPBACK, port: acceptPorts[0] ?? 0 });
          raw.on('error', () => undefined);
          const client = connectTls({ socket: raw, rejectUnauthorized: false });
          client.on('error', () => undefined);
          await once(client, 'secureConnect');
          client.write(randomBytes(10));
          await engine.waitForLine(/connected remote server from/);
          await delay(200);
          raw.resetAndDestroy();
          const [record] = await engine.waitForClosed(1);
          const how = await Promise.race([backendSaw, delay(5000).then(() => 'still open')]);
          return { backend: how, lines: relayLines(engine, record?.id ?? '') };
        },
      });
      assertSameOutcome(results, {
        backend: 'end',
        lines: ['LOG6: TLS fd: Connection reset by peer (104)', 'LOG6: TLS socket closed (SSL_read)', 'LOG5: Connection closed: N byte(s) sent to TLS, N byte(s) sent to socket'],
      }, 'a TLS client that resets');
    } finally {
      await watching.close();
    }
  });

  it('TIMEOUTidle = 1: an idle connection is reset, with the bytes it relayed before', async () => {
    const results = await runScenario({
      dir, fixture: 'idle-timeout.conf', label: 'idle', variables: { SERVER_PEM: pki.pemFile, BACKEND_PORT: backend.port },
      probe: async ({ engine, acceptPorts }) => {
        const session = await openEchoSession(acceptPorts[0] ?? 0, {});
        try {
          await session.echo(randomBytes(PAYLOAD_BYTES));
          // Then nothing: the engine must end it after a second.
          const timeoutLine = await engine.waitForLine(/TIMEOUTidle exceeded/);
          const [record] = await engine.waitForClosed(1);
          await session.closed;
          return { timeoutLine: timeoutLine.text, close: record?.close ?? null };
        } finally {
          await session.close();
        }
      },
    });
    assertSameOutcome(results, {
      timeoutLine: 'transfer: s_poll_wait: TIMEOUTidle exceeded: sending reset',
      close: { status: 'reset', toTls: PAYLOAD_BYTES, toSocket: PAYLOAD_BYTES },
    }, 'an idle timeout');
  });

  it('TIMEOUTclose = 1: a client half-closes, the backend neither answers nor closes: "TIMEOUTclose exceeded: closing", then closed', async () => {
    // Reads everything, never answers, never closes.
    const quiet = await startBackend((socket) => {
      socket.resume();
    });
    try {
      const results = await runScenario({
        dir, fixture: 'close-timeout.conf', label: 'close', variables: { SERVER_PEM: pki.pemFile, BACKEND_PORT: quiet.port },
        probe: async ({ engine, acceptPorts }) => {
          // allowHalfOpen is honoured by tls.connect though @types/node omits it.
          const client = connectTls({ host: LOOPBACK, port: acceptPorts[0] ?? 0, rejectUnauthorized: false, ...{ allowHalfOpen: true } });
          client.on('error', () => undefined);
          try {
            await new Promise<void>((resolve) => client.once('secureConnect', () => resolve()));
            client.end(randomBytes(PAYLOAD_BYTES));
            const timeoutLine = await engine.waitForLine(/TIMEOUTclose exceeded/);
            const [record] = await engine.waitForClosed(1);
            return { timeoutLine: `LOG${timeoutLine.level}: ${timeoutLine.text}`, close: record?.close ?? null };
          } finally {
            client.destroy();
          }
        },
      });
      assertSameOutcome(results, {
        timeoutLine: 'LOG3: transfer: s_poll_wait: TIMEOUTclose exceeded: closing',
        close: { status: 'closed', toTls: 0, toSocket: PAYLOAD_BYTES },
      }, 'a close timeout');
    } finally {
      await quiet.close();
    }
  });

  it('the target refuses: the TLS client is dropped and the close summary has no bytes', async () => {
    const deadPort = await getFreePort();
    const results = await runScenario({
      dir, fixture: 'basic-server.conf', label: 'refused', variables: { SERVER_PEM: pki.pemFile, BACKEND_PORT: deadPort },
      probe: async ({ engine, acceptPorts }) => {
        const result = await tlsEcho(acceptPorts[0] ?? 0, randomBytes(PAYLOAD_BYTES));
        const [record] = await engine.waitForClosed(1);
        const texts = record?.texts ?? [];
        return {
          ok: result.ok,
          refusedLine: texts.some((text) => text === `s_connect: connect 127.0.0.1:${deadPort}: Connection refused (111)`),
          noMoreAddresses: texts.includes('No more addresses to connect'),
          close: record?.close ?? null,
        };
      },
    });
    assertSameOutcome(results, { ok: false, refusedLine: true, noMoreAddresses: true, close: { status: 'reset', toTls: 0, toSocket: 0 } }, 'a refusing target');
  });

  it('plain text to the TLS port: the handshake fails and the close summary has no bytes', async () => {
    const results = await runScenario({
      dir, fixture: 'basic-server.conf', label: 'plaintext', variables: { SERVER_PEM: pki.pemFile, BACKEND_PORT: backend.port },
      probe: async ({ engine, acceptPorts }) => {
        const result = await plainEcho(acceptPorts[0] ?? 0, Buffer.from('GET / HTTP/1.0\r\n\r\n'));
        const [record] = await engine.waitForClosed(1);
        return {
          ok: result.ok,
          sslAcceptError: (record?.texts ?? []).some((text) => /^SSL_accept: .*error:0A00009C:SSL routines::http request$/.test(text)),
          close: record?.close ?? null,
        };
      },
    });
    assertSameOutcome(results, { ok: false, sslAcceptError: true, close: { status: 'reset', toTls: 0, toSocket: 0 } }, 'plain text to a TLS port');
  });
});
