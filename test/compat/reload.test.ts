// A reload (SIGHUP) after the configuration file was swapped, on stunnel4 and on stunnelctl: a
// connection made before keeps relaying through its old service, the new service serves, and the
// listener of the removed service is closed. (stunnelctl keeps unchanged listeners open across a
// reload, a deliberate difference that this file's swap - no listener in common - does not touch.)
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { startEchoServer } from '../helpers/echo-server.js';
import type { Backend } from '../helpers/echo-server.js';
import { createPki } from '../helpers/pki.js';
import type { Pki } from '../helpers/pki.js';
import { getFreePorts } from '../helpers/ports.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import { ENGINE_KINDS, engineFiles, withEngine } from './support/engines.js';
import type { EngineKind } from './support/engines.js';
import { writeFixture } from './support/fixtures.js';
import { outcomeOf } from './support/log-events.js';
import type { ConnectionOutcome } from './support/log-events.js';
import { isListening, openEchoSession, tlsEcho } from './support/peers.js';
import { acceptPortVariables, assertSameOutcome } from './support/scenario.js';
import type { PerEngine } from './support/scenario.js';

const CHUNK_BYTES = 1000;

describe('reload (SIGHUP) after swapping the configuration file: stunnel4 and stunnelctl agree', () => {
  let dir: string;
  let pki: Pki;
  let backendA: Backend;
  let backendB: Backend;

  before(async () => {
    dir = realpathSync(makeTempDir('compat-reload'));
    pki = await createPki(dir, 'server');
    backendA = await startEchoServer();
    backendB = await startEchoServer();
  });

  after(async () => {
    await backendA?.close();
    await backendB?.close();
    if (dir !== undefined) removeTempDir(dir);
  });

  const reloadScenario = async (kind: EngineKind, ports: readonly number[]) => {
    const files = engineFiles(dir, 'reload', kind);
    const variables = {
      ...acceptPortVariables(ports), SERVER_PEM: pki.pemFile, BACKEND_A_PORT: backendA.port, BACKEND_B_PORT: backendB.port, LOG_FILE: files.log, PID_FILE: files.pid,
    };
    const [oldPort, newPort] = ports as [number, number];
    writeFixture('reload-before.conf', variables, files.config);
    return withEngine(kind, files, async (engine) => {
      const held = await openEchoSession(oldPort, {});
      try {
        await held.echo(randomBytes(CHUNK_BYTES));
        writeFixture('reload-after.conf', variables, files.config);
        await engine.signal('SIGHUP');
        await waitFor(() => isListening(newPort) && !isListening(oldPort), {
          what: `${kind} to listen on ${newPort} and no longer on ${oldPort} after SIGHUP`,
        });
        // The old connection still relays, through its old service to backend A (echo() throws if not).
        await held.echo(randomBytes(CHUNK_BYTES));
        const countsBefore = [backendA.connectionCount(), backendB.connectionCount()];
        const fresh = await tlsEcho(newPort, randomBytes(CHUNK_BYTES));
        const counts = [backendA.connectionCount() - (countsBefore[0] ?? 0), backendB.connectionCount() - (countsBefore[1] ?? 0)];
        await held.close();
        const connections = (await engine.waitForClosed(2)).map(outcomeOf);
        return { fresh: fresh.ok, freshBackends: counts, oldPortListening: isListening(oldPort), connections };
      } finally {
        await held.close();
      }
    });
  };

  it('an old connection keeps relaying through its old service; the new service serves; the removed listener is closed', async () => {
    const ports = await getFreePorts(2 * ENGINE_KINDS.length);
    const results: Partial<PerEngine<unknown>> = {};
    for (const [index, kind] of ENGINE_KINDS.entries()) results[kind] = await reloadScenario(kind, ports.slice(index * 2, index * 2 + 2));
    const served = (service: string, backend: Backend, bytes: number): ConnectionOutcome => ({
      service, handshake: 'accepted: new session negotiated', targets: [`127.0.0.1:${backend.port}`], certificate: null, redirected: false, close: 'closed', toTls: bytes, toSocket: bytes,
    });
    assertSameOutcome(results as PerEngine<unknown>, {
      fresh: true,
      freshBackends: [0, 1],
      oldPortListening: false,
      // Log order is accept order: the held connection first, with both chunks in its byte counts.
      connections: [served('before', backendA, 2 * CHUNK_BYTES), served('after', backendB, CHUNK_BYTES)],
    }, 'a reload that swaps the configuration file');
  });
});
