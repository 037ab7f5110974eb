// `reload-config` (STUNNEL.RELOAD-CONFIG): under the home lock, the file is validated first (a
// broken edit never reaches the worker), then SIGHUP, then the worker's own verdict is reported.
import { StunnelctlError } from '../errors.js';
import type { ReloadResult } from '../worker/state-file.js';
import { loadValidConfiguration, locateWorkerFiles } from './configuration.js';
import { withHomeLock, type HomeLockEvents, type HomeLockTarget } from './lock.js';
import { requestFromWorker, requireRunningWorker } from './worker-signals.js';

export interface ReloadRequest {
  homeDirectory: string;
  lock: HomeLockTarget;
  lockWaitMs: number;
  lockEvents: HomeLockEvents;
  configPath: string;
  defaults: { pid: string; log: string };
  timeoutMs: number;
  problem: (line: string) => void;
}

export interface ReloadOutcome {
  pid: number;
  generation: number;
  result: ReloadResult;
}

export const reloadWorker = (request: ReloadRequest): Promise<ReloadOutcome> =>
  withHomeLock(request.lock, { ...request.lockEvents, waitMs: request.lockWaitMs }, async () => {
    const location = locateWorkerFiles(request.configPath, request.defaults);
    const worker = requireRunningWorker(location, request.homeDirectory);
    loadValidConfiguration(request.configPath, request.problem);
    const state = await requestFromWorker(worker, location.statePath, 'reload', request.timeoutMs);
    const result = state.lastReload;
    if (result === null || !result.ok) {
      throw new StunnelctlError('SCTL_ERR_RELOAD_REJECTED', `the worker kept its old configuration: ${result?.message ?? 'it gave no reason'}`, {
        hint: 'its log has the details; fix the configuration, then run stunnelctl reload-config again',
      });
    }
    return { pid: worker.pid, generation: state.configGeneration, result };
  });
