// Options of stunnel's language that change what a connection or the worker does, each shown on the
// wire or in the process: TLS option flags, curves, checkIP, logId, log = overwrite, `run -fd N`, and
// setuid/setgid after binding.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as connectTls } from 'node:tls';
import { join } from 'node:path';
import { startEchoServer, type Backend } from '../helpers/echo-server.js';
import { CLI_PATH } from '../helpers/paths.js';
import { getFreePorts } from '../helpers/ports.js';
import { stopPid } from '../helpers/processes.js';
import { readLogLines } from '../helpers/stunnel-log.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import { startWorker, writeConfig } from '../helpers/worker.js';
import { createCertificateAuthority, issueLeaf, readKeyPair, type CertificateFiles } from './support/certificates.js';
import { GLOBAL_LINES, startEngine } from './support/engine.js';
import { attemptTls, startTlsBackend } from './support/peers.js';

/** Handshake facts a Node client sees: protocol and the ephemeral key group. */
const handshake = (port: number, ecdhCurve?: string): Promise<{ protocol: string | null; group: string | undefined }> =>
  new Promise((resolve, reject) => {
    const socket = connectTls({ host: '127.0.0.1', port, rejectUnauthorized: false, ...(ecdhCurve === undefined ? {} : { ecdhCurve }) }, () => {
      const key = socket.getEphemeralKeyInfo() as { name?: string } | null;
      const facts = { protocol: socket.getProtocol(), group: key?.name };
      socket.end();
      resolve(facts);
    });
    socket.on('error', reject);
  });

describe('option semantics', () => {
  let dir: string;
  let backend: Backend;
  let ca: CertificateFiles;
  let server: CertificateFiles;

  before(async () => {
    dir = makeTempDir('options');
    backend = await startEchoServer();
    ca = await createCertificateAuthority(dir);
    server = await issueLeaf(dir, ca, 'server', 'server.example', 'DNS:server.example,IP:127.0.0.1');
  });
  after(async () => {
    await backend?.close();
    removeTempDir(dir);
  });

  const serve = async (name: string, lines: readonly string[]) => {
    const [acceptPort] = (await getFreePorts(1)) as [number];
    const running = await startEngine({
      dir, name,
      config: [...GLOBAL_LINES, ...lines.filter((line) => !line.startsWith('[')), `[${name}]`, `accept = 127.0.0.1:${acceptPort}`, `connect = 127.0.0.1:${backend.port}`, `cert = ${server.pemFile}`],
    });
    return { running, acceptPort };
  };

  it('options = NO_TLSv1_3 caps the service at TLS 1.2', async () => {
    const { running, acceptPort } = await serve('no-tls13', ['options = NO_TLSv1_3']);
    try {
      assert.equal((await handshake(acceptPort)).protocol, 'TLSv1.2');
    } finally {
      running.stop();
    }
    const plain = await serve('default-tls13', []);
    try {
      assert.equal((await handshake(plain.acceptPort)).protocol, 'TLSv1.3', 'without the option the same client gets TLS 1.3');
    } finally {
      plain.running.stop();
    }
  });

  it('curves = P-384 makes the server pick P-384 from a client offering X25519 first, and refuse an X25519-only client', async () => {
    const { running, acceptPort } = await serve('curves', ['curves = P-384']);
    try {
      // Node names the group by OpenSSL's curve name.
      assert.equal((await handshake(acceptPort, 'X25519:P-384')).group, 'secp384r1');
      await assert.rejects(handshake(acceptPort, 'X25519'), 'no group in common');
    } finally {
      running.stop();
    }
  });

  it('logId = unique names connections with 22 random alphanumerics', async () => {
    const { running, acceptPort } = await serve('logid', ['logId = unique']);
    try {
      const attempt = await attemptTls(acceptPort, 'hello\n');
      assert.equal(attempt.received.toString(), 'hello\n');
      const accepted = await running.waitForLine(/ accepted connection from /);
      assert.match(accepted.id, /^[A-Za-z0-9]{22}$/);
    } finally {
      running.stop();
    }
  });

  it('checkIP accepts a backend certificate with that IP SAN and refuses another address', async () => {
    const tlsBackend = await startTlsBackend({ ...readKeyPair(server), reply: Buffer.from('verified\n') });
    try {
      for (const [name, checkIP, expected] of [['ip-right', '127.0.0.1', 'verified\n'], ['ip-wrong', '10.0.0.1', '']] as const) {
        const [acceptPort] = (await getFreePorts(1)) as [number];
        const running = await startEngine({
          dir, name,
          config: [...GLOBAL_LINES, `[${name}]`, 'client = yes', `accept = 127.0.0.1:${acceptPort}`, `connect = 127.0.0.1:${tlsBackend.port}`, 'verifyChain = yes', `CAfile = ${ca.certFile}`, `checkIP = ${checkIP}`],
        });
        try {
          const received = await new Promise<string>((resolve) => {
            const chunks: Buffer[] = [];
            import('node:net').then(({ connect }) => {
              const socket = connect(acceptPort, '127.0.0.1', () => socket.end());
              socket.on('data', (chunk: Buffer) => chunks.push(chunk));
              socket.on('error', () => undefined);
              socket.on('close', () => resolve(Buffer.concat(chunks).toString()));
            }, () => resolve(''));
          });
          assert.equal(received, expected, `checkIP = ${checkIP}`);
          if (expected === '') assert.ok(running.lines().some((line) => line.text === 'CERT: Subject checks failed'));
        } finally {
          running.stop();
        }
      }
    } finally {
      await tlsBackend.close();
    }
  });

  it('log = overwrite truncates the log file when the worker opens it; append (the default) keeps it', async () => {
    for (const [mode, keeps] of [['overwrite', false], ['append', true]] as const) {
      const [acceptPort] = (await getFreePorts(1)) as [number];
      const log = join(dir, `log-${mode}.log`);
      const pid = join(dir, `log-${mode}.pid`);
      const config = join(dir, `log-${mode}.conf`);
      writeFileSync(log, '2020.01.01 00:00:00 LOG5[main]: a line from before\n');
      writeConfig(config, [`log = ${mode}`, `output = ${log}`, `pid = ${pid}`, `[s]`, `accept = 127.0.0.1:${acceptPort}`, `connect = 127.0.0.1:${backend.port}`, `cert = ${server.pemFile}`]);
      const { pid: workerPid } = await startWorker(config, pid);
      try {
        await waitFor(() => readLogLines(log).some((line) => line.text === 'Configuration successful'), { what: 'the worker to log' });
        assert.equal(readFileSync(log, 'utf8').includes('a line from before'), keeps, `log = ${mode}`);
      } finally {
        await stopPid(workerPid);
      }
    }
  });

  it('run -fd N reads the configuration from a descriptor', async () => {
    const [acceptPort] = (await getFreePorts(1)) as [number];
    const pid = join(dir, 'fd.pid');
    const config = join(dir, 'fd.conf');
    writeConfig(config, [`pid = ${pid}`, 'foreground = quiet', '[fd]', `accept = 127.0.0.1:${acceptPort}`, `connect = 127.0.0.1:${backend.port}`, `cert = ${server.pemFile}`]);
    const fd = openSync(config, 'r');
    const child = spawn(process.execPath, [CLI_PATH, 'run', '-fd', '3'], { stdio: ['ignore', 'ignore', 'pipe', fd] });
    closeSync(fd);
    try {
      const workerPid = await waitFor(() => {
        try {
          return Number(readFileSync(pid, 'utf8').trim()) || undefined;
        } catch {
          return undefined;
        }
      }, { what: 'the pid file of run -fd 3' });
      assert.equal(workerPid, child.pid);
      const attempt = await attemptTls(acceptPort, 'from fd\n');
      assert.equal(attempt.received.toString(), 'from fd\n');
    } finally {
      if (child.pid !== undefined) await stopPid(child.pid);
    }
  });

  it('setuid / setgid drop privileges after binding (the worker runs as nobody:nogroup)', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, async () => {
    const [acceptPort] = (await getFreePorts(1)) as [number];
    const runDir = makeTempDir('setuid');
    chmodSync(runDir, 0o777);
    const pid = join(runDir, 'setuid.pid');
    const config = join(runDir, 'setuid.conf');
    const pem = join(runDir, 'server.pem');
    writeFileSync(pem, readFileSync(server.pemFile));
    writeConfig(config, ['setuid = nobody', 'setgid = nogroup', `pid = ${pid}`, `output = ${join(runDir, 'setuid.log')}`, '[s]', `accept = 127.0.0.1:${acceptPort}`, `connect = 127.0.0.1:${backend.port}`, `cert = ${pem}`]);
    const { pid: workerPid } = await startWorker(config, pid);
    try {
      const status = readFileSync(`/proc/${workerPid}/status`, 'utf8');
      const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
      const gid = /^Gid:\s+(\d+)/m.exec(status)?.[1];
      assert.equal(uid, String(Number(readFileSync('/etc/passwd', 'utf8').split('\n').find((line) => line.startsWith('nobody:'))?.split(':')[2])));
      assert.equal(gid, String(Number(readFileSync('/etc/group', 'utf8').split('\n').find((line) => line.startsWith('nogroup:'))?.split(':')[2])));
      const attempt = await attemptTls(acceptPort, 'as nobody\n');
      assert.equal(attempt.received.toString(), 'as nobody\n');
    } finally {
      await stopPid(workerPid);
      removeTempDir(runDir);
    }
  });
});
