// `log-conn` (STUNNEL.LOG-CONN): SIGUSR2 makes the worker write its connections to its log and
// into the state file, which is where the CLI reads them from to show the operator.
import type { ConnectionInfo } from '../worker/state-file.js';
import { locateWorkerFiles } from './configuration.js';
import { requestFromWorker, requireRunningWorker } from './worker-signals.js';

export interface ConnectionDumpRequest {
  homeDirectory: string;
  configPath: string;
  defaults: { pid: string; log: string };
  timeoutMs: number;
}

export interface ConnectionDump {
  pid: number;
  logPath: string | null;
  at: string | null;
  connections: ConnectionInfo[];
}

export const dumpWorkerConnections = async (request: ConnectionDumpRequest): Promise<ConnectionDump> => {
  const location = locateWorkerFiles(request.configPath, request.defaults);
  const worker = requireRunningWorker(location, request.homeDirectory);
  const state = await requestFromWorker(worker, location.statePath, 'dumpConnections', request.timeoutMs);
  return { pid: worker.pid, logPath: state.logFile, at: state.connectionsAt, connections: state.connections };
};
