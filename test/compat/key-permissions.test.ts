// Key file permissions at start, on stunnel4 and stunnelctl: a key file (the `key` file, or the
// `cert` file holding the key) that "other" users may access gets stunnel's warning `Insecure file
// permissions on FILE` (LOG4), between `Initializing service [x]` and the service's bind line; a
// 0600 key file gets none.
import { after, before, describe, it } from 'node:test';
import { chmodSync, copyFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { startEchoServer } from '../helpers/echo-server.js';
import type { Backend } from '../helpers/echo-server.js';
import { createPki } from '../helpers/pki.js';
import type { Pki } from '../helpers/pki.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { assertSameOutcome, runScenario } from './support/scenario.js';
import type { ProbeContext } from './support/scenario.js';

interface StartupWarnings {
  /** `LOG4[ui]: Insecure file permissions on FILE` lines. */
  warnings: string[];
  /** Every warning comes after `Initializing service [keys]` and before the service's bind line. */
  inServiceInitialization: boolean;
}

const readStartupWarnings = async ({ engine }: ProbeContext): Promise<StartupWarnings> => {
  await engine.accepting();
  const texts = engine.lines().map((line) => line.text);
  const initializing = texts.indexOf('Initializing service [keys]');
  const bound = texts.findIndex((text) => /^Service \[keys\] \(FD=\d+\) bound to /.test(text));
  const positions = texts.flatMap((text, index) => (text.startsWith('Insecure file permissions') ? [index] : []));
  return {
    warnings: engine.lines().filter((line) => line.text.startsWith('Insecure file permissions')).map((line) => `LOG${line.level}[${line.id}]: ${line.text}`),
    inServiceInitialization: initializing !== -1 && positions.every((index) => index > initializing && index < bound),
  };
};

describe('key file permissions: stunnel4 and stunnelctl warn alike', () => {
  let dir: string;
  let pki: Pki;
  let backend: Backend;

  before(async () => {
    dir = realpathSync(makeTempDir('compat-key-permissions'));
    pki = await createPki(dir, 'server');
    backend = await startEchoServer();
  });

  after(async () => {
    await backend?.close();
    if (dir !== undefined) removeTempDir(dir);
  });

  /** A copy of `source` with `mode`. */
  const copyWithMode = (source: string, name: string, mode: number): string => {
    const target = join(dir, name);
    copyFileSync(source, target);
    chmodSync(target, mode);
    return target;
  };

  for (const [mode, expected] of [[0o644, true], [0o604, true], [0o640, false], [0o600, false]] as const) {
    it(`a key file with mode ${mode.toString(8)}: ${expected ? 'both warn' : 'neither warns'}`, async () => {
      const keyFile = copyWithMode(pki.keyFile, `key-${mode.toString(8)}.pem`, mode);
      const results = await runScenario({
        dir, fixture: 'key-file.conf', label: `key-${mode.toString(8)}`,
        variables: { BACKEND_PORT: backend.port, CERT_FILE: pki.certFile, KEY_FILE: keyFile }, probe: readStartupWarnings,
      });
      assertSameOutcome(results, {
        warnings: expected ? [`LOG4[ui]: Insecure file permissions on ${keyFile}`] : [], inServiceInitialization: true,
      }, `a key file with mode ${mode.toString(8)}`);
    });
  }

  it('the key in the certificate file, mode 644: both warn about the certificate file', async () => {
    const pemFile = copyWithMode(pki.pemFile, 'cert-and-key-644.pem', 0o644);
    const results = await runScenario({
      dir, fixture: 'key-in-cert-file.conf', label: 'key-in-cert-644', variables: { BACKEND_PORT: backend.port, CERT_FILE: pemFile }, probe: readStartupWarnings,
    });
    assertSameOutcome(results, { warnings: [`LOG4[ui]: Insecure file permissions on ${pemFile}`], inServiceInitialization: true }, 'a certificate file holding the key');
  });
});
