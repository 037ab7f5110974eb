// What `stunnelctl log-conn` does (STUNNEL.LOG-CONN), loaded only when it runs.
import { dumpWorkerConnections } from '../../control/connection-dump.js';
import { loadHome } from '../../control/home.js';
import type { ConnectionInfo } from '../../worker/state-file.js';
import type { CliContext } from '../context.js';
import { formatCount, formatDuration, formatTable } from '../format.js';
import { resolveHome, toMilliseconds, type HomeOptions, type TimeoutOptions } from '../options.js';

export interface LogConnOptions extends HomeOptions, TimeoutOptions {
  json?: boolean;
}

export const formatConnectionTable = (connections: readonly ConnectionInfo[]): string[] =>
  formatTable([
    ['SERVICE', 'ID', 'PEER', 'TARGET', 'TLS', 'CIPHER', 'TO-TLS', 'TO-SOCKET', 'AGE', 'IDLE'],
    ...connections.map((connection) => [
      `[${connection.service}]`,
      connection.id,
      connection.peer,
      connection.target ?? '-',
      connection.tlsVersion ?? '-',
      connection.cipher ?? '-',
      String(connection.bytesToTls),
      String(connection.bytesToSocket),
      formatDuration(connection.ageMs),
      formatDuration(connection.idleMs),
    ]),
  ]);

export const runLogConn = async (options: LogConnOptions, context: CliContext): Promise<void> => {
  const { report } = context;
  const directory = resolveHome(options, context.io);
  const { files } = loadHome(directory);
  const dump = await dumpWorkerConnections({ homeDirectory: directory, configPath: files.config, defaults: files, timeoutMs: toMilliseconds(options.timeout) });
  if (options.json === true) {
    report.line(JSON.stringify({ pid: dump.pid, at: dump.at, connections: dump.connections }, null, 2));
    return;
  }
  const where = dump.logPath === null ? 'the SYSLST file' : dump.logPath;
  report.line(`${formatCount(dump.connections.length, 'active connection')} (worker pid ${dump.pid}; also written to ${where})`);
  if (dump.connections.length > 0) formatConnectionTable(dump.connections).forEach((row) => report.line(row));
};
