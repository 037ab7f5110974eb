// What the operator sees when things go wrong (issue 2 "Faults"): double and concurrent starts, control
// commands without a worker, a worker killed with SIGKILL, an accept port in use or privileged, an
// unknown job class, a repeated install, and a configuration error. Exit codes follow SPEC.md §3.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createHome, isWorkerOf } from '../helpers/home.js';
import type { TestHome } from '../helpers/home.js';
import { readJobClassTable } from '../helpers/job-classes.js';
import { closeServer, getFreePorts, isAccepting, listenOn } from '../helpers/ports.js';
import { formatResult, isProcessAlive, runCommand, stopPid } from '../helpers/processes.js';
import type { CommandResult } from '../helpers/processes.js';
import { CLI_PATH } from '../helpers/paths.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import { findWorkersOf, findWorkersUnder } from '../helpers/worker.js';

const START_FAILURE_BOUND_MS = 10_000;
const UNPRIVILEGED_USER = 'nobody';
const UNPRIVILEGED_GROUP = 'nogroup';

/** Installs a home (first service 127.0.0.1:free -> 127.0.0.1:free), runs `body`, always cleans up. */
const withHome = async (body: (home: TestHome) => Promise<void>, acceptPort?: number): Promise<void> => {
  const [freeAccept, connectPort] = (await getFreePorts(2)) as [number, number];
  const home = await createHome({ acceptPort: acceptPort ?? freeAccept, connectPort });
  try {
    await body(home);
  } finally {
    await home.cleanup();
  }
};

const startHome = async (home: TestHome, args: readonly string[] = []): Promise<number> => {
  const result = await home.cli('start', args);
  assert.equal(result.code, 0, formatResult(result));
  const pid = home.readPidFile();
  assert.ok(pid !== undefined && isWorkerOf(pid, home.files.config), `a worker of ${home.files.config} runs (pid file: ${pid})`);
  return pid;
};

const output = (result: CommandResult): string => `${result.stdout}\n${result.stderr}`;

/** sha256 of every file under `dir`, by relative path. */
const hashTree = (dir: string): Record<string, string> => {
  const hashes: Record<string, string> = {};
  const walk = (current: string): void => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) walk(path);
      else hashes[relative(dir, path)] = createHash('sha256').update(readFileSync(path)).digest('hex');
    }
  };
  walk(dir);
  return hashes;
};

/** A port below 1024 that nothing listens on (tried as root or with the capability, else any). */
const findPrivilegedPort = async (): Promise<number> => {
  for (const port of [994, 993, 992, 991, 990, 989]) {
    if (!(await isAccepting(port))) return port;
  }
  throw new Error('no free port among 989..994');
};

/** How to run a command as an unprivileged user: [] when we already are one, else a setpriv/runuser prefix. */
const unprivilegedPrefix = async (): Promise<string[] | undefined> => {
  if (process.getuid?.() !== 0) return [];
  for (const [tool, args] of [
    ['setpriv', ['--reuid', UNPRIVILEGED_USER, '--regid', UNPRIVILEGED_GROUP, '--clear-groups', '--']],
    ['runuser', ['-u', UNPRIVILEGED_USER, '--']],
  ] as const) {
    const probe = await runCommand('sh', ['-c', `command -v ${tool}`]);
    if (probe.code === 0) return [probe.stdout.trim(), ...args];
  }
  return undefined;
};

describe('faults', () => {
  it('start when already running: exit 0 with a note, still exactly one worker', async () => {
    await withHome(async (home) => {
      const pid = await startHome(home);
      const again = await home.cli('start');
      assert.equal(again.code, 0, formatResult(again));
      assert.notEqual(output(again).trim(), '', 'start says the worker is already running');
      assert.match(output(again), new RegExp(`\\b${pid}\\b`), 'the note names the running worker');
      assert.equal(home.readPidFile(), pid);
      assert.deepEqual(findWorkersOf(home.files.config), [pid]);
    });
  });

  it('two concurrent start commands leave exactly one worker (one pid file, one process)', async () => {
    await withHome(async (home) => {
      for (let round = 0; round < 2; round += 1) {
        const results = await Promise.all([home.cli('start'), home.cli('start')]);
        for (const result of results) assert.ok(result.code === 0 || result.code === 1, formatResult(result));
        assert.ok(results.some((result) => result.code === 0), results.map(formatResult).join('\n'));
        const pid = home.readPidFile();
        assert.ok(pid !== undefined, 'one pid file');
        assert.deepEqual(findWorkersOf(home.files.config), [pid], `round ${round}: exactly one worker process`);
        const stop = await home.cli('stop');
        assert.equal(stop.code, 0, formatResult(stop));
        assert.deepEqual(findWorkersOf(home.files.config), []);
      }
    });
  });

  it('without a worker: stop exits 0 with a note; log-conn, reload-config, switch-logfile exit 7; status exits 3', async () => {
    await withHome(async (home) => {
      const stop = await home.cli('stop');
      assert.equal(stop.code, 0, formatResult(stop));
      assert.notEqual(output(stop).trim(), '', 'stop says nothing was running');
      for (const subcommand of ['log-conn', 'reload-config', 'switch-logfile']) {
        const result = await home.cli(subcommand);
        assert.equal(result.code, 7, formatResult(result));
        assert.notEqual(result.stderr.trim(), '', `${subcommand} explains on stderr`);
      }
      const status = await home.cli('status');
      assert.equal(status.code, 3, formatResult(status));
    });
  });

  it('after kill -9 of the worker: status exits 1; start clears the stale pid file, says so, and starts', async () => {
    await withHome(async (home) => {
      const killed = await startHome(home);
      process.kill(killed, 'SIGKILL');
      await waitFor(() => !isProcessAlive(killed), { what: `worker ${killed} to die of SIGKILL` });
      assert.equal(home.readPidFile(), killed, 'the pid file is left behind');

      const status = await home.cli('status');
      assert.equal(status.code, 1, formatResult(status));

      const start = await home.cli('start');
      assert.equal(start.code, 0, formatResult(start));
      assert.ok(/stale/i.test(output(start)) || output(start).includes(String(killed)), `start mentions the stale pid file\n${formatResult(start)}`);
      const pid = home.readPidFile();
      assert.ok(pid !== undefined && pid !== killed, `a new worker pid (${pid})`);
      assert.deepEqual(findWorkersOf(home.files.config), [pid]);
      assert.equal((await home.cli('status')).code, 0);
    });
  });

  it('accept port in use: start fails within seconds, exit 1, with the worker\'s "Address already in use", no pid file', async () => {
    const [busyPort] = (await getFreePorts(1)) as [number];
    const holder = await listenOn(busyPort);
    try {
      await withHome(async (home) => {
        const startedAt = Date.now();
        const start = await home.cli('start');
        const elapsedMs = Date.now() - startedAt;
        assert.equal(start.code, 1, formatResult(start));
        assert.match(start.stderr, /Address already in use/);
        assert.ok(elapsedMs < START_FAILURE_BOUND_MS, `start took ${elapsedMs} ms to fail`);
        assert.equal(existsSync(home.files.pid), false, 'no pid file left');
        assert.deepEqual(findWorkersOf(home.files.config), []);
      }, busyPort);
    } finally {
      await closeServer(holder);
    }
  });

  it('accept port below 1024 as a non-root user: start fails, exit 1, "Permission denied", no pid file', async (t) => {
    const prefix = await unprivilegedPrefix();
    if (prefix === undefined) {
      t.skip('running as root and neither setpriv nor runuser exists to drop to an unprivileged user');
      return;
    }
    const unprivilegedStart = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));
    const port = await findPrivilegedPort();
    if (unprivilegedStart <= port) {
      t.skip(`net.ipv4.ip_unprivileged_port_start is ${unprivilegedStart}: port ${port} is not privileged here`);
      return;
    }
    const [connectPort] = (await getFreePorts(1)) as [number];
    const dir = makeTempDir('privileged');
    chmodSync(dir, 0o777);
    const home = join(dir, 'home');
    const asUser = (args: readonly string[]) => {
      const [command = process.execPath, ...rest] = [...prefix, process.execPath, CLI_PATH, ...args];
      return runCommand(command, rest);
    };
    try {
      const install = await asUser(['install', '--home', home, '--accept', `127.0.0.1:${port}`, '--connect', `127.0.0.1:${connectPort}`]);
      assert.equal(install.code, 0, formatResult(install));
      const startedAt = Date.now();
      const start = await asUser(['start', '--home', home]);
      const elapsedMs = Date.now() - startedAt;
      assert.equal(start.code, 1, formatResult(start));
      assert.match(start.stderr, /Permission denied/);
      assert.ok(elapsedMs < START_FAILURE_BOUND_MS, `start took ${elapsedMs} ms to fail`);
      const status = await asUser(['status', '--home', home, '--json']);
      const files = (JSON.parse(status.stdout) as { files: { pid: string; config: string } }).files;
      assert.equal(existsSync(files.pid), false, 'no pid file left');
      assert.deepEqual(findWorkersOf(files.config), []);
    } finally {
      await asUser(['stop', '--home', home]);
      // Should start have wrongly succeeded, no worker of this home may outlive the test.
      for (const pid of findWorkersUnder(home)) await stopPid(pid);
      removeTempDir(dir);
    }
  });

  it('unknown job class: exit 2, stderr lists the known classes, no worker', async () => {
    await withHome(async (home) => {
      const start = await home.cli('start', ['--job-class', '*NOSUCH']);
      assert.equal(start.code, 2, formatResult(start));
      const known = [...readJobClassTable(home.files.jobClasses).keys()];
      assert.ok(known.length >= 2, `the table defines at least two classes: ${known.join(', ')}`);
      for (const name of known) assert.ok(start.stderr.includes(name), `stderr lists ${name}\n${start.stderr}`);
      assert.equal(existsSync(home.files.pid), false);
      assert.deepEqual(findWorkersOf(home.files.config), []);
    });
  });

  it('install over an existing home: exit 0, every file byte-identical, the operator\'s edit kept', async () => {
    await withHome(async (home) => {
      appendFileSync(home.files.config, '; edited by the operator\n');
      const before = hashTree(home.home);
      const modes = Object.fromEntries(Object.keys(before).map((path) => [path, statSync(join(home.home, path)).mode]));
      const again = await home.cli('install', ['--accept', `127.0.0.1:${home.acceptPort}`, '--connect', `127.0.0.1:${home.connectPort}`]);
      assert.equal(again.code, 0, formatResult(again));
      assert.notEqual(output(again).trim(), '', 'install reports the existing home');
      assert.deepEqual(hashTree(home.home), before);
      for (const [path, mode] of Object.entries(modes)) assert.equal(statSync(join(home.home, path)).mode, mode, `mode of ${path}`);
    });
  });

  it('a configuration with an unknown option: start exits 6 naming FILE:LINE and the option, no worker', async () => {
    await withHome(async (home) => {
      const lines = readFileSync(home.files.config, 'utf8').split('\n');
      // Put the error in the middle of the file so a wrong line number cannot pass.
      const insertAt = Math.min(3, lines.length);
      lines.splice(insertAt, 0, 'noSuchOption = yes');
      writeFileSync(home.files.config, lines.join('\n'));
      const start = await home.cli('start');
      assert.equal(start.code, 6, formatResult(start));
      assert.ok(start.stderr.includes(`${home.files.config}:${insertAt + 1}`), `stderr names ${home.files.config}:${insertAt + 1}\n${start.stderr}`);
      assert.match(start.stderr, /noSuchOption/);
      assert.equal(existsSync(home.files.pid), false);
      assert.deepEqual(findWorkersOf(home.files.config), []);
    });
  });
});
