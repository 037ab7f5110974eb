// Every process the benchmark starts: spawned through `sh` with a raised open-file limit, its
// stdout read as JSON lines (the agents' protocol), its stderr kept in a file of the run, and
// stopped by pid (TERM, bounded wait, KILL). Nothing is ever stopped by name.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { processTree, processStartTicks } from './proc-stats.js';

/** What `ulimit -n` is raised to; when the hard limit is lower, the hard limit is used. */
export const WANTED_FD_LIMIT = 65536;
const STOP_GRACE_MS = 5000;
const KILL_WAIT_MS = 3000;
export const DEFAULT_MESSAGE_TIMEOUT_MS = 60_000;

// `exec` keeps the pid: the pid we hold is the program's, not the shell's.
const FD_LIMIT_WRAPPER = `ulimit -n ${WANTED_FD_LIMIT} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`;

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartOptions {
  /** Where stderr (and stdout unless `readStdout`) go, appended. */
  logFile: string;
  /** Read stdout as JSON lines (agents); otherwise it goes to the log file. */
  readStdout?: boolean;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/**
 * Processes that outlived the process that started them (an engine process still running after its
 * worker exited), each reported once and killed: left running, one would distort every later figure.
 * run.ts prints them with the notes.
 */
export const leftoverReports: string[] = [];
/** How long descendants get to exit after their parent did, before they count as left over. */
const DESCENDANT_EXIT_WAIT_MS = 3000;
const DESCENDANT_POLL_MS = 100;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Every process started and not yet exited: what an interrupted run must still stop. */
const live = new Set<BenchProcess>();

export class BenchProcess {
  readonly name: string;
  readonly pid: number;
  readonly exited: Promise<ExitStatus>;
  private exitStatus: ExitStatus | undefined;
  private readonly lines: string[] = [];
  private readonly waiters: Array<(line: string | undefined) => void> = [];
  private stdoutClosed = false;

  constructor(name: string, child: ChildProcess) {
    if (child.pid === undefined) throw new Error(`${name}: the process did not start`);
    this.name = name;
    this.pid = child.pid;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitStatus = { code, signal };
        live.delete(this);
        resolve(this.exitStatus);
      });
    });
    if (child.stdout !== null) {
      const reader = createInterface({ input: child.stdout });
      reader.on('line', (line) => this.deliver(line));
      reader.on('close', () => {
        this.stdoutClosed = true;
        for (const waiter of this.waiters.splice(0)) waiter(undefined);
      });
    }
  }

  get hasExited(): boolean {
    return this.exitStatus !== undefined;
  }

  get status(): ExitStatus | undefined {
    return this.exitStatus;
  }

  /** The next JSON line the process prints; rejects on timeout or when stdout closes first. */
  async nextMessage<T>(timeoutMs = DEFAULT_MESSAGE_TIMEOUT_MS): Promise<T> {
    const line = await this.nextLine(timeoutMs);
    try {
      return JSON.parse(line) as T;
    } catch (error) {
      throw new Error(`${this.name}: expected a JSON line, got ${JSON.stringify(line.slice(0, 200))}`, { cause: error });
    }
  }

  private nextLine(timeoutMs: number): Promise<string> {
    const ready = this.lines.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.stdoutClosed) return Promise.reject(new Error(`${this.name}: exited without the expected output (see its log)`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this.waiters.indexOf(onLine);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(new Error(`${this.name}: no output within ${timeoutMs} ms`));
      }, timeoutMs);
      const onLine = (line: string | undefined): void => {
        clearTimeout(timer);
        if (line === undefined) reject(new Error(`${this.name}: exited without the expected output (see its log)`));
        else resolve(line);
      };
      this.waiters.push(onLine);
    });
  }

  private deliver(line: string): void {
    const waiter = this.waiters.shift();
    if (waiter !== undefined) waiter(line);
    else this.lines.push(line);
  }

  signal(signal: NodeJS.Signals): void {
    if (this.hasExited) return;
    try {
      process.kill(this.pid, signal);
    } catch (error) {
      // Exited between the check and the kill: nothing left to signal.
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }

  /** Waits for the exit, at most `timeoutMs`; true when it exited. */
  async waitForExit(timeoutMs: number): Promise<boolean> {
    if (this.hasExited) return true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const result = await Promise.race([this.exited.then(() => true as const), timedOut]);
    clearTimeout(timer);
    return result;
  }

  /**
   * TERM, a bounded wait, then KILL; then the descendants it had (a worker's engine processes) must
   * have exited too, else they are reported and killed, each by its pid (checked by its start time).
   * Safe to call twice.
   */
  async stop(graceMs = STOP_GRACE_MS): Promise<void> {
    if (this.hasExited) return;
    const descendants = processTree(this.pid).slice(1).map((pid) => ({ pid, startTicks: processStartTicks(pid) }));
    this.signal('SIGTERM');
    if (!(await this.waitForExit(graceMs))) {
      process.stderr.write(`bench: ${this.name} (pid ${this.pid}) ignored SIGTERM for ${graceMs} ms: SIGKILL\n`);
      this.signal('SIGKILL');
      await this.waitForExit(KILL_WAIT_MS);
    }
    const stillThere = (entry: { pid: number; startTicks: number | undefined }): boolean =>
      entry.startTicks !== undefined && processStartTicks(entry.pid) === entry.startTicks;
    for (let waited = 0; waited < DESCENDANT_EXIT_WAIT_MS && descendants.some(stillThere); waited += DESCENDANT_POLL_MS) {
      await sleep(DESCENDANT_POLL_MS);
    }
    for (const entry of descendants.filter(stillThere)) {
      const report = `${this.name} (pid ${this.pid}) exited, its descendant pid ${entry.pid} was still running ${DESCENDANT_EXIT_WAIT_MS} ms later: killed`;
      leftoverReports.push(report);
      process.stderr.write(`bench: ${report}\n`);
      try {
        process.kill(entry.pid, 'SIGKILL');
      } catch {
        // gone in between
      }
    }
  }
}

/** Starts `file args` with the raised open-file limit. */
export const startProcess = (name: string, file: string, args: readonly string[], options: StartOptions): BenchProcess => {
  const logFd = openSync(options.logFile, 'a');
  try {
    const child = spawn('sh', ['-c', FD_LIMIT_WRAPPER, name, file, ...args], {
      stdio: ['ignore', options.readStdout === true ? 'pipe' : logFd, logFd],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
    const started = new BenchProcess(name, child);
    if (!started.hasExited) live.add(started);
    return started;
  } finally {
    closeSync(logFd);
  }
};

/** Stops every process still running (an interrupted run), each by its own pid. */
export const stopLiveProcesses = async (): Promise<void> => {
  await Promise.all([...live].map((process) => process.stop()));
};

/** Stops all of them concurrently (each by its own pid). */
export const stopAll = async (processes: Iterable<BenchProcess | undefined>): Promise<void> => {
  await Promise.all([...processes].map((process) => process?.stop()));
};

/** Runs a command to completion, with a bounded wait; returns its exit status and output. */
export const runToCompletion = (
  file: string,
  args: readonly string[],
  options: { timeoutMs: number; env?: NodeJS.ProcessEnv; cwd?: string },
): Promise<ExitStatus & { stdout: string; stderr: string; wallMs: number }> =>
  new Promise((resolve, reject) => {
    const startedAt = performance.now();
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env, cwd: options.cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file} ${args.join(' ')}: no exit within ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      const wallMs = performance.now() - startedAt;
      clearTimeout(timer);
      // 'exit' can come before the pipes are drained; 'close' has all of the output.
      child.once('close', () => resolve({ code, signal, stdout, stderr, wallMs }));
    });
  });
