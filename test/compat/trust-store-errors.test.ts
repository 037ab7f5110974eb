// verifyChain with a CAfile (or CApath) that yields no certificate at all, on stunnel4 and stunnelctl:
// the configuration is refused as a TLS context failure (`No trusted certificates found`, `Service
// [x]: Failed to initialize TLS context`, `Configuration failed`, exit 1) at start, and a reload to
// it fails (`Failed to reload the configuration file`) while the previous configuration keeps serving.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { startEchoServer } from '../helpers/echo-server.js';
import type { Backend } from '../helpers/echo-server.js';
import { getFreePorts } from '../helpers/ports.js';
import { formatResult } from '../helpers/processes.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { ENGINE_KINDS, engineFiles, runEngineToExit, withEngine } from './support/engines.js';
import { lineOf, writeFixture } from './support/fixtures.js';
import type { FixtureVariables } from './support/fixtures.js';
import { tlsEcho } from './support/peers.js';
import { assertSameOutcome } from './support/scenario.js';
import type { PerEngine } from './support/scenario.js';
import { createTwoLevelPki } from './support/two-level-pki.js';
import type { TwoLevelPki } from './support/two-level-pki.js';

const PAYLOAD_BYTES = 512;
/** stunnelctl prefixes a diagnostic with the place it names: `FILE:LINE: "raw line": `. */
const PLACE_PREFIX = /^\/[^:]*:\d+: ".*?": /;

describe('a trust store without any certificate under verifyChain: stunnel4 and stunnelctl refuse it alike', () => {
  let dir: string;
  let pki: TwoLevelPki;
  let backend: Backend;

  before(async () => {
    dir = realpathSync(makeTempDir('compat-trust-errors'));
    pki = await createTwoLevelPki(dir);
    backend = await startEchoServer();
  });

  after(async () => {
    await backend?.close();
    if (dir !== undefined) removeTempDir(dir);
  });

  const fixture = 'error-cafile-no-certificates.conf';

  it(`${fixture}: both exit 1 with "No trusted certificates found", "Service [trust]: Failed to initialize TLS context", "Configuration failed"`, async () => {
    const errors: Partial<PerEngine<string[]>> = {};
    for (const kind of ENGINE_KINDS) {
      const [acceptPort] = (await getFreePorts(1)) as [number];
      const files = engineFiles(dir, 'no-certificates', kind);
      const variables: FixtureVariables = {
        ACCEPT_PORT: acceptPort, BACKEND_PORT: backend.port, SERVER_PEM: pki.server.pemFile, CA_FILE: pki.rootCrl, LOG_FILE: files.log, PID_FILE: files.pid,
      };
      writeFixture(fixture, variables, files.config);
      const result = await runEngineToExit(kind, [files.config]);
      const context = `${kind}: ${formatResult(result)}`;
      assert.equal(result.code, 1, `${kind} must refuse the configuration\n${context}`);
      const lines = result.stderr.split('\n').filter((line) => line.startsWith('[!] ')).map((line) => line.slice('[!] '.length));
      if (kind === 'stunnelctl') {
        // The reason names the CAfile line, as stunnelctl's other TLS context failures do.
        const caLine = `${files.config}:${lineOf(fixture, 'CAfile = ')}: "CAfile = ${pki.rootCrl}": No trusted certificates found`;
        assert.ok(lines.includes(caLine), `stunnelctl names the CAfile line (${caLine})\n${context}`);
      }
      errors[kind] = lines.map((line) => line.replace(PLACE_PREFIX, ''));
    }
    assertSameOutcome(errors as PerEngine<string[]>, [
      'No trusted certificates found', 'Service [trust]: Failed to initialize TLS context', 'Configuration failed',
    ], 'a CAfile holding only a CRL');
  });

  it('a reload to a CAfile holding only a CRL fails and the previous configuration keeps serving', async () => {
    const clientOptions = { cert: readFileSync(pki.client.certFile), key: readFileSync(pki.client.keyFile) };
    const ports = await getFreePorts(ENGINE_KINDS.length);
    const results: Partial<PerEngine<unknown>> = {};
    for (const [index, kind] of ENGINE_KINDS.entries()) {
      const files = engineFiles(dir, 'reload-no-certificates', kind);
      const liveDir = join(dir, `live-${kind}`);
      mkdirSync(liveDir, { recursive: true });
      const liveCaFile = join(liveDir, 'ca.pem');
      copyFileSync(pki.root.certFile, liveCaFile);
      const port = ports[index] ?? 0;
      writeFixture('trust-reload.conf', {
        ACCEPT_PORT: port, BACKEND_PORT: backend.port, SERVER_PEM: pki.server.pemFile, CA_FILE: liveCaFile, LOG_FILE: files.log, PID_FILE: files.pid,
      }, files.config);
      results[kind] = await withEngine(kind, files, async (engine) => {
        const before = await tlsEcho(port, randomBytes(PAYLOAD_BYTES), clientOptions);
        copyFileSync(pki.rootCrl, liveCaFile);
        const skip = engine.lines().length;
        await engine.signal('SIGHUP');
        await engine.waitForLine(/^Failed to reload the configuration file$/, { skip });
        const after = await tlsEcho(port, randomBytes(PAYLOAD_BYTES), clientOptions);
        const reloadLines = engine.lines().slice(skip).filter((line) => line.level <= 3 && !/^\d+$/.test(line.id))
          .map((line) => `LOG${line.level}: ${line.text.replace(PLACE_PREFIX, '')}`);
        const connections = await engine.waitForClosed(2);
        return { before: before.ok, after: after.ok, reloadLines, certificates: connections.map((connection) => connection.certificate) };
      });
    }
    assertSameOutcome(results as PerEngine<unknown>, {
      before: true,
      after: true,
      reloadLines: [
        'LOG3: No trusted certificates found', 'LOG3: Service [trust]: Failed to initialize TLS context', 'LOG3: Configuration failed',
        'LOG3: Failed to reload the configuration file',
      ],
      certificates: ['accepted CN=client', 'accepted CN=client'],
    }, 'a reload to a CAfile without certificates');
  });
});
