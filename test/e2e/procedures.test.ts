// The BS2000 procedure scripts (procedures/STUNNEL.*) run the same operator loop as the CLI, with
// BS2000-style operands (HOME=, JOB-CLASS=*BATCH, ...); stunnelctl's exit code is the procedure's,
// and an unknown operand is a usage error (exit 2).
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256, startEchoServer } from '../helpers/echo-server.js';
import type { Backend } from '../helpers/echo-server.js';
import { isWorkerOf, parseStatusJson } from '../helpers/home.js';
import type { HomeFiles } from '../helpers/home.js';
import { readJobClassTable, readNice, readOpenFileLimits } from '../helpers/job-classes.js';
import { PROCEDURES_DIR } from '../helpers/paths.js';
import { getFreePorts, isAccepting } from '../helpers/ports.js';
import { formatResult, runCli, runCommand, stopPid } from '../helpers/processes.js';
import type { CommandResult } from '../helpers/processes.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { tlsRoundTrip } from '../helpers/tls-peers.js';
import { findWorkersUnder, readPid } from '../helpers/worker.js';

const runProcedure = (name: string, operands: readonly string[]): Promise<CommandResult> =>
  runCommand(join(PROCEDURES_DIR, name), operands);

describe('procedures: STUNNEL.INSTALL / START / LOG-CONN / SWITCH-LOGFILE / RELOAD-CONFIG / STOP', () => {
  let dir = '';
  let home = '';
  let files: HomeFiles;
  let echo: Backend;
  let acceptPort = 0;

  before(async () => {
    dir = makeTempDir('procedures');
    home = join(dir, 'home');
    echo = await startEchoServer();
    [acceptPort] = (await getFreePorts(1)) as [number];
  });

  after(async () => {
    await runProcedure('STUNNEL.STOP', [`HOME=${home}`]);
    for (const pid of findWorkersUnder(home)) await stopPid(pid);
    await echo?.close();
    removeTempDir(dir);
  });

  it('STUNNEL.INSTALL HOME= ACCEPT= CONNECT= installs the home', async () => {
    const install = await runProcedure('STUNNEL.INSTALL', [`HOME=${home}`, `ACCEPT=127.0.0.1:${acceptPort}`, `CONNECT=127.0.0.1:${echo.port}`]);
    assert.equal(install.code, 0, formatResult(install));
    files = parseStatusJson(await runCli(['status', '--home', home, '--json'])).files;
    assert.ok(existsSync(files.config) && existsSync(files.jobFile) && existsSync(files.testPem));
    assert.match(readFileSync(files.config, 'utf8'), new RegExp(`accept\\s*=\\s*127\\.0\\.0\\.1:${acceptPort}`));
  });

  it('STUNNEL.START JOB-CLASS=*BATCH HOME= starts the worker with that class; it relays TLS', async () => {
    // *BATCH, not the default *STD: only a propagated operand can produce its limits.
    const start = await runProcedure('STUNNEL.START', ['JOB-CLASS=*BATCH', `HOME=${home}`]);
    assert.equal(start.code, 0, formatResult(start));
    const pid = readPid(files.pid);
    assert.ok(pid !== undefined && isWorkerOf(pid, files.config), `worker running (pid file: ${pid})`);
    const limits = readJobClassTable(files.jobClasses).get('*BATCH');
    assert.ok(limits !== undefined);
    assert.equal(readOpenFileLimits(pid).soft, limits.nofile);
    assert.equal(readNice(pid), Math.min(19, readNice('self') + limits.nice));

    const payload = randomBytes(10_000);
    const trip = await tlsRoundTrip({ port: acceptPort, version: 'tls1_3', payload });
    assert.equal(sha256(trip.received), sha256(payload));
  });

  it('STUNNEL.LOG-CONN, STUNNEL.SWITCH-LOGFILE and STUNNEL.RELOAD-CONFIG exit 0 on the running worker', async () => {
    const logConn = await runProcedure('STUNNEL.LOG-CONN', [`HOME=${home}`, 'JSON=*YES']);
    assert.equal(logConn.code, 0, formatResult(logConn));
    assert.ok(Array.isArray((JSON.parse(logConn.stdout) as { connections: unknown }).connections), logConn.stdout);

    const switched = await runProcedure('STUNNEL.SWITCH-LOGFILE', [`HOME=${home}`, 'JSON=*YES']);
    assert.equal(switched.code, 0, formatResult(switched));
    const { archived } = JSON.parse(switched.stdout) as { archived: string };
    assert.ok(existsSync(archived), `archived log ${archived}`);

    const reload = await runProcedure('STUNNEL.RELOAD-CONFIG', [`HOME=${home}`]);
    assert.equal(reload.code, 0, formatResult(reload));
  });

  it('an unknown operand is a usage error (exit 2) and starts nothing new', async () => {
    const pidBefore = readPid(files.pid);
    const result = await runProcedure('STUNNEL.START', [`HOME=${home}`, 'NO-SUCH-OPERAND=1']);
    assert.equal(result.code, 2, formatResult(result));
    assert.match(result.stderr, /NO-SUCH-OPERAND/);
    assert.equal(readPid(files.pid), pidBefore);
  });

  it('STUNNEL.STOP HOME= stops the worker; the procedures then pass stunnelctl\'s exit codes on (7, 0)', async () => {
    const pid = readPid(files.pid);
    const stop = await runProcedure('STUNNEL.STOP', [`HOME=${home}`]);
    assert.equal(stop.code, 0, formatResult(stop));
    assert.equal(existsSync(files.pid), false);
    assert.ok(pid !== undefined && !isWorkerOf(pid, files.config));
    assert.equal(await isAccepting(acceptPort), false);

    const logConn = await runProcedure('STUNNEL.LOG-CONN', [`HOME=${home}`]);
    assert.equal(logConn.code, 7, formatResult(logConn));
    const reload = await runProcedure('STUNNEL.RELOAD-CONFIG', [`HOME=${home}`]);
    assert.equal(reload.code, 7, formatResult(reload));
    const stopAgain = await runProcedure('STUNNEL.STOP', [`HOME=${home}`]);
    assert.equal(stopAgain.code, 0, formatResult(stopAgain));
  });

  it('MAKE.SELF-SIGNED-CERT OUTPUT= writes a certificate OpenSSL loads', async () => {
    const out = join(dir, 'procedure.pem');
    const result = await runProcedure('MAKE.SELF-SIGNED-CERT', [`HOME=${home}`, `OUTPUT=${out}`]);
    assert.equal(result.code, 0, formatResult(result));
    const x509 = await runCommand('openssl', ['x509', '-in', out, '-noout']);
    assert.equal(x509.code, 0, formatResult(x509));
  });
});
