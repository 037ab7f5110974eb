// How a connection ends, and the close summary stunnel writes for it, on stunnel4 and stunnelctl: a
// clean close in both directions (`Connection closed`), an idle timeout (`Connection reset`), a
// half-closed connection whose backend goes quiet (TIMEOUTclose, `Connection closed`), a target
// that refuses, and a client that speaks plain text to the TLS port. The status word and both
// byte counts are compared exactly: log monitoring matches on them.
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { connect as connectTls } from 'node:tls';
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
