// Launching the home's job file as a detached job (BS2000 ENTER-JOB): a new session, stdout and
// stderr appended to the SYSLST file, the job class in the environment. The CLI does not wait for
// it: the job outlives the command that started it.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { execa } from 'execa';
import { StunnelctlError, getSystemErrorCode } from '../errors.js';
import type { JobClass } from './job-classes.js';
import { findCliEntryPath } from './package-files.js';

/** The most of the SYSLST file shown when a start fails (its tail, if the worker wrote more). */
const MAX_SYSLST_EXCERPT_BYTES = 16 * 1024;

export interface JobExit {
  code: number | undefined;
  signal: string | undefined;
  /** Set when execa itself failed (the job could not be spawned or awaited). */
  error?: unknown;
}

export interface LaunchedJob {
  pid: number;
  /** Where SYSLST ended before the launch: what follows is this job's output. */
  syslstOffset: number;
  /** How the job ended, once it has (the CLI is its parent until it exits). */
  exitStatus(): JobExit | undefined;
}

export interface LaunchRequest {
  jobFile: string;
  syslstPath: string;
  /** The job's working directory: the home. */
  cwd: string;
  jobClass: JobClass;
}

const openSyslst = (path: string): number => {
  try {
    return openSync(path, 'a', 0o644);
  } catch (error) {
    throw new StunnelctlError('SCTL_ERR_IO', `cannot open the SYSLST file ${path}: ${getSystemErrorCode(error) ?? String(error)}`, {
      cause: error,
    });
  }
};

/**
 * Runs `sh JOBFILE` detached. `sh` rather than the file itself, so a job file that lost its x bit
 * still runs; the job file `exec`s into the worker, so the pid returned is the worker's pid.
 */
export const launchJob = (request: LaunchRequest): LaunchedJob => {
  const syslst = openSyslst(request.syslstPath);
  let exit: JobExit | undefined;
  try {
    const syslstOffset = fstatSync(syslst).size;
    // execa hands a descriptor number straight to spawn(); its types only list 1 and 2, hence the cast.
    const output = syslst as 1;
    const subprocess = execa('/bin/sh', [request.jobFile], {
      cwd: request.cwd,
      // A session of its own: no signal sent to the operator's terminal or to this command reaches it.
      detached: true,
      // execa would otherwise kill the job when this command exits.
      cleanup: false,
      reject: false,
      stdin: 'ignore',
      stdout: output,
      stderr: output,
      env: {
        STUNNELCTL_JOB_CLASS: request.jobClass.name,
        STUNNELCTL_NICE: String(request.jobClass.nice),
        STUNNELCTL_NOFILE: String(request.jobClass.nofile),
        STUNNELCTL_NODE: process.execPath,
        STUNNELCTL_CLI: findCliEntryPath(),
      },
    });
    // Settles when the job exits; until then it must not keep this command alive (unref below).
    subprocess.then(
      (result) => {
        exit = { code: result.exitCode, signal: result.signal };
      },
      (error: unknown) => {
        // With reject: false execa does not reject; if it ever does, report it as the job's end.
        exit = { code: undefined, signal: undefined, error };
      },
    );
    subprocess.unref();
    if (subprocess.pid === undefined) {
      throw new StunnelctlError('SCTL_ERR_START_FAILED', `could not run the job file ${request.jobFile}`, {
        hint: 'check that /bin/sh exists and the home is readable',
      });
    }
    return { pid: subprocess.pid, syslstOffset, exitStatus: () => exit };
  } finally {
    // The job holds its own copy of the descriptor.
    closeSync(syslst);
  }
};

/** What the job appended to SYSLST since `offset`, as lines (the tail only, if it wrote a lot). */
export const readSyslstSince = (path: string, offset: number): string[] => {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if (getSystemErrorCode(error) === 'ENOENT') return [];
    throw error;
  }
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(offset, size - MAX_SYSLST_EXCERPT_BYTES);
    const buffer = Buffer.alloc(Math.max(0, size - start));
    readSync(fd, buffer, 0, buffer.length, start);
    return buffer.toString('utf8').split(/\r?\n/).filter((line) => line.trim() !== '');
  } finally {
    closeSync(fd);
  }
};
