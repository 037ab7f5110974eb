// Figure 3, log switch under load: `switch-logfile` on both workers, again and again, while every
// connection of the load is established and moving data. Across the archived and current logs, each
// connection's `accepted connection` and `Connection closed` lines appear exactly once, in both
// workers (followed from the client's port through the client-mode worker to the server-mode one).
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import type { TestHome } from '../helpers/home.js';
import { formatResult } from '../helpers/processes.js';
import { findMalformedLines, readLogLines } from '../helpers/stunnel-log.js';
import type { LogLine } from '../helpers/stunnel-log.js';
import { waitFor } from '../helpers/wait.js';
import { assertFigure } from './support/figures.js';
import { checkIntegrity, formatMiB, runLoad, startLoadRig } from './support/load-rig.js';
import type { LoadRig } from './support/load-rig.js';
import { byScale, SCALE } from './support/scale.js';
import { findInternalErrors, listLogFiles } from './support/workers.js';

const CONNECTIONS = byScale(500, 100);
const BYTES_PER_CONNECTION = byScale(1024 * 1024, 256 * 1024);
const SWITCHES = byScale(20, 5);
const STREAM_TIMEOUT_MS = byScale(600_000, 150_000);

const ACCEPTED = /^Service \[[^\]]+\] accepted connection from 127\.0\.0\.1:(\d+)$/;
const CONNECTED_FROM = /^Service \[[^\]]+\] connected remote server from 127\.0\.0\.1:(\d+)$/;
const CLOSED = /^Connection closed: /;
const CLOSE_SUMMARY = /^Connection (closed|reset|[a-z]+\/[a-z]+): /;

interface ConnectionLines {
  accepted: LogLine[];
  closeSummaries: LogLine[];
  /** The worker's own port towards its target (client mode: the server-mode worker sees it as the peer). */
  connectedFromPort: string | undefined;
}

/** Every connection's lines across the archived and current logs of a worker, by connection id. */
const collectConnections = (home: TestHome): { byId: Map<string, ConnectionLines>; byPeerPort: Map<string, string[]>; files: string[] } => {
  const files = listLogFiles(home.files.log);
  const byId = new Map<string, ConnectionLines>();
  const byPeerPort = new Map<string, string[]>();
  for (const line of files.flatMap(readLogLines)) {
    if (line.id === 'main' || line.id === 'ui') continue;
    const entry = byId.get(line.id) ?? { accepted: [], closeSummaries: [], connectedFromPort: undefined };
    byId.set(line.id, entry);
    const accepted = ACCEPTED.exec(line.text);
    if (accepted?.[1] !== undefined) {
      entry.accepted.push(line);
      byPeerPort.set(accepted[1], [...(byPeerPort.get(accepted[1]) ?? []), line.id]);
    }
    if (CLOSE_SUMMARY.test(line.text)) entry.closeSummaries.push(line);
    entry.connectedFromPort ??= CONNECTED_FROM.exec(line.text)?.[1];
  }
  return { byId, byPeerPort, files };
};

const switchBoth = (rig: LoadRig, round: number) => async (): Promise<void> => {
  for (const home of [rig.server, rig.client]) {
    const result = await home.cli('switch-logfile');
    if (result.code !== 0) throw new Error(`switch ${round + 1} failed\n${formatResult(result)}`);
  }
};

/** Problems of one connection's lines in one worker: each of accept and close must appear exactly once. */
const checkExactlyOnce = (what: string, lines: ConnectionLines | undefined): string[] => {
  if (lines === undefined) return [`${what}: no lines at all`];
  const problems: string[] = [];
  if (lines.accepted.length !== 1) problems.push(`${what}: ${lines.accepted.length} "accepted connection" lines`);
  const closed = lines.closeSummaries.filter((line) => CLOSED.test(line.text));
  if (closed.length !== 1 || lines.closeSummaries.length !== 1) {
    problems.push(`${what}: close summaries ${JSON.stringify(lines.closeSummaries.map((line) => line.text))}`);
  }
  return problems;
};

describe(`figure 3: log switch under load (${SCALE})`, () => {
  it(`${SWITCHES} switch-logfile of each worker during ${CONNECTIONS} connections of ${formatMiB(BYTES_PER_CONNECTION)} each way: accept and close logged exactly once`, { timeout: STREAM_TIMEOUT_MS + 180_000 }, async () => {
    const rig = await startLoadRig();
    try {
      const commands = Array.from({ length: SWITCHES }, (_, round) => switchBoth(rig, round));
      const run = await runLoad(rig, { connections: CONNECTIONS, bytesPerConnection: BYTES_PER_CONNECTION, commands, timeoutMs: STREAM_TIMEOUT_MS });
      assert.deepEqual(run.commandErrors, [], 'every switch-logfile succeeded');
      const { intact, problems: streamProblems } = checkIntegrity(run, BYTES_PER_CONNECTION);
      assert.equal(intact, CONNECTIONS, streamProblems.slice(0, 10).join('\n'));
      const clientPorts = run.outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [String(outcome.value.localPort)] : []));

      // Both workers have logged every close before the files are judged.
      for (const home of [rig.client, rig.server]) {
        await waitFor(() => [...collectConnections(home).byId.values()].filter((entry) => entry.closeSummaries.length > 0).length >= CONNECTIONS, {
          what: `${CONNECTIONS} close summaries across the logs of ${home.home}`,
        });
      }
      const client = collectConnections(rig.client);
      const server = collectConnections(rig.server);
      const problems: string[] = [];
      let exactlyOnce = 0;
      for (const port of clientPorts) {
        const clientIds = client.byPeerPort.get(port) ?? [];
        if (clientIds.length !== 1) {
          problems.push(`client port ${port}: accepted under ids ${JSON.stringify(clientIds)} in the client-mode worker`);
          continue;
        }
        const clientId = clientIds[0] ?? '';
        const clientLines = client.byId.get(clientId);
        const own = checkExactlyOnce(`client-mode worker, connection ${clientId} (client port ${port})`, clientLines);
        const hop = clientLines?.connectedFromPort;
        const serverIds = hop === undefined ? [] : server.byPeerPort.get(hop) ?? [];
        if (serverIds.length !== 1) own.push(`connection ${clientId}: its TLS leg (port ${hop}) accepted under ids ${JSON.stringify(serverIds)} in the server-mode worker`);
        else own.push(...checkExactlyOnce(`server-mode worker, connection ${serverIds[0] ?? ''}`, server.byId.get(serverIds[0] ?? '')));
        if (own.length === 0) exactlyOnce += 1;
        problems.push(...own);
      }
      const malformed = [...client.files, ...server.files].flatMap((file) => findMalformedLines(file).map((line) => `${file}: ${line}`));
      console.log(`logs: ${client.files.length} files of the client-mode worker, ${server.files.length} of the server-mode worker`);
      assertFigure(
        `3 log switch under load: connections with accept and close logged exactly once in both workers (${SWITCHES} switches each)`,
        `${exactlyOnce}/${CONNECTIONS}`,
        `${CONNECTIONS}/${CONNECTIONS}`,
        exactlyOnce === CONNECTIONS && malformed.length === 0,
        [...problems.slice(0, 20), ...malformed.slice(0, 10)].join('\n'),
      );
      assert.equal(client.files.length, SWITCHES + 1, `the client-mode worker's log was switched ${SWITCHES} times`);
      assert.equal(server.files.length, SWITCHES + 1, `the server-mode worker's log was switched ${SWITCHES} times`);
      assert.equal(server.byId.size, CONNECTIONS, 'the server-mode worker saw exactly the connections of the load');
      assert.deepEqual([...findInternalErrors(rig.server), ...findInternalErrors(rig.client)], []);
    } finally {
      await rig.cleanup();
    }
  });
});
