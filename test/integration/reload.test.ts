// Reload without a gap: an unchanged listener stays open through `engine.reload` (a separate process
// connecting in a tight loop never sees ECONNREFUSED), established connections keep relaying, a new
// service answers, a removed one's port refuses; a reload that cannot bind leaves the old
// configuration serving and closes what it had opened.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startEchoServer } from '../helpers/echo-server.js';
import type { Backend } from '../helpers/echo-server.js';
import { closeServer, getFreePorts, isAccepting, listenOn, waitUntilRefusing } from '../helpers/ports.js';
import { createPki } from '../helpers/pki.js';
import type { Pki } from '../helpers/pki.js';
import { startProcess, stopProcess } from '../helpers/processes.js';
import type { StartedProcess } from '../helpers/processes.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor, withTimeout } from '../helpers/wait.js';
import { GLOBAL_LINES, startEngine } from './support/engine.js';
import { openTlsClient, whenClosed } from './support/peers.js';

/** Connects to the port over and over (RST right after each connect) until stdin closes; prints counts as JSON. */
const PROBE_SCRIPT = `
const net = require('node:net');
const port = Number(process.argv[1]);
let attempts = 0, refused = 0, otherErrors = 0, stopping = false;
process.stdin.on('data', () => undefined);
process.stdin.on('end', () => { stopping = true; });
const once = () => {
  if (stopping) { process.stdout.write(JSON.stringify({ attempts, refused, otherErrors }) + '\\n'); return; }
  attempts += 1;
  if (attempts % 50 === 0) process.stderr.write('.');
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.once('connect', () => { socket.resetAndDestroy(); setImmediate(once); });
  socket.once('error', (error) => {
    if (error.code === 'ECONNREFUSED') refused += 1; else otherErrors += 1;
    socket.destroy();
    setImmediate(once);
  });
};
once();
`;

interface ProbeCounts {
  attempts: number;
  refused: number;
  otherErrors: number;
}

const startProbe = (port: number): StartedProcess => startProcess(process.execPath, ['-e', PROBE_SCRIPT, String(port)]);

/** Progress dots on stderr: one per 50 attempts. */
const probeAttempts = (probe: StartedProcess): number => probe.stderr().toString().length * 50;

const stopProbe = async (probe: StartedProcess): Promise<ProbeCounts> => {
  probe.child.stdin?.end();
  await withTimeout(probe.closed, 10_000, 'the connect probe to report');
  return JSON.parse(probe.stdout().toString()) as ProbeCounts;
};

/** One echo round trip over a fresh TLS connection. */
const echoOnce = async (port: number, text: string): Promise<string> => {
  const client = await openTlsClient(port);
  try {
    const closed = whenClosed(client, 10_000, `an echo through 127.0.0.1:${port}`);
    client.end(text);
    return (await closed).received.toString();
  } finally {
    client.destroy();
  }
};

describe('reload keeps serving', () => {
  let dir = '';
  let pki: Pki;
  const cleanups: Array<() => unknown> = [];

  beforeEach(async () => {
    dir = makeTempDir('reload');
    pki = await createPki(dir, 'server');
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    removeTempDir(dir);
  });

  const echoBackend = async (): Promise<Backend> => {
    const backend = await startEchoServer();
    cleanups.push(() => backend.close());
    return backend;
  };

  const section = (name: string, acceptPort: number, connectPort: number): string[] => [
    `[${name}]`, `accept = 127.0.0.1:${acceptPort}`, `connect = 127.0.0.1:${connectPort}`, `cert = ${pki.pemFile}`,
  ];

  it('an unchanged listener never refuses during reload; old connections relay on; a new service answers; a removed one refuses', async () => {
    const oldBackend = await echoBackend();
    const newBackend = await echoBackend();
    const [keptPort, droppedPort, addedPort] = await getFreePorts(3) as [number, number, number];
    const running = await startEngine({ dir, config: [...GLOBAL_LINES, ...section('kept', keptPort, oldBackend.port), ...section('dropped', droppedPort, oldBackend.port)] });
    cleanups.push(() => running.stop());

    const established = await openTlsClient(keptPort);
    cleanups.push(() => established.destroy());
    const echoed: Buffer[] = [];
    established.on('data', (chunk: Buffer) => echoed.push(chunk));
    established.write('before reload\n');
    await waitFor(() => Buffer.concat(echoed).toString() === 'before reload\n', { what: 'the echo on the established connection before the reload' });

    const probe = startProbe(keptPort);
    cleanups.push(() => stopProcess(probe));
    await waitFor(() => probeAttempts(probe) >= 100, { what: 'the connect probe to get going' });
    await running.reload([...GLOBAL_LINES, ...section('kept', keptPort, newBackend.port), ...section('added', addedPort, newBackend.port)]);
    const attemptsAtReload = probeAttempts(probe);
    await waitFor(() => probeAttempts(probe) >= attemptsAtReload + 100, { what: 'the connect probe to go on after the reload' });
    const counts = await stopProbe(probe);
    assert.equal(counts.refused, 0, `connects refused during the reload: ${JSON.stringify(counts)}`);
    assert.equal(counts.otherErrors, 0, `connect errors during the reload: ${JSON.stringify(counts)}`);
    assert.ok(counts.attempts >= 200, `the probe connected ${counts.attempts} times`);

    established.write('after reload\n');
    await waitFor(() => Buffer.concat(echoed).toString() === 'before reload\nafter reload\n', { what: 'the echo on the established connection after the reload' });
    const newBefore = newBackend.connectionCount();
    assert.equal(await echoOnce(keptPort, 'kept\n'), 'kept\n', 'the kept listener serves');
    assert.equal(newBackend.connectionCount(), newBefore + 1, 'a new connection on the kept listener uses the reloaded target');
    assert.equal(await echoOnce(addedPort, 'added\n'), 'added\n', 'the added service answers');
    await waitUntilRefusing(droppedPort);
    assert.ok(running.lines().some((line) => new RegExp(`^Service \\[added\\] \\(FD=\\d+\\) bound to 127\\.0\\.0\\.1:${addedPort}$`).test(line.text)), 'the added listener is logged as bound');
  });

  it('a reload whose new port is taken throws, closes the listeners it opened and leaves the old configuration serving', async () => {
    const oldBackend = await echoBackend();
    const newBackend = await echoBackend();
    const [keptPort, freshPort, takenPort] = await getFreePorts(3) as [number, number, number];
    const foreign = await listenOn(takenPort);
    cleanups.push(() => closeServer(foreign));
    const running = await startEngine({ dir, config: [...GLOBAL_LINES, ...section('kept', keptPort, oldBackend.port)] });
    cleanups.push(() => running.stop());

    await assert.rejects(
      running.reload([...GLOBAL_LINES, ...section('kept', keptPort, newBackend.port), ...section('fresh', freshPort, newBackend.port), ...section('clash', takenPort, newBackend.port)]),
      (error: Error) => {
        assert.match(error.message, /Address already in use \(98\)/);
        return true;
      },
    );
    const texts = running.lines().map((line) => line.text);
    assert.ok(texts.includes(`Binding service [clash] to 127.0.0.1:${takenPort}: Address already in use (98)`), texts.join('\n'));
    assert.ok(texts.includes('Binding service [clash] failed'), texts.join('\n'));

    const oldBefore = oldBackend.connectionCount();
    assert.equal(await echoOnce(keptPort, 'still old\n'), 'still old\n');
    assert.equal(oldBackend.connectionCount(), oldBefore + 1, 'the kept listener still uses the old target');
    assert.equal(newBackend.connectionCount(), 0, 'nothing of the failed configuration is serving');
    assert.equal(await isAccepting(freshPort), false, 'the listener the failed reload had opened is closed again');
    assert.deepEqual(running.engine.servicesState().map((service) => service.name), ['kept']);
  });
});
