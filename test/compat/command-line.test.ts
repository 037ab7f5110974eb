// stunnel's command line, on `stunnel4` and `stunnelctl run`: the informational switches exit 0 and
// print to stderr only (nothing on stdout); a configuration file that does not exist exits 1 with a
// clear error on stderr.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { formatResult } from '../helpers/processes.js';
import { ENGINE_KINDS, runEngineToExit } from './support/engines.js';

describe('the stunnel command line: stunnel4 and stunnelctl run agree', () => {
  for (const option of ['-version', '-help', '-sockets', '-options'] as const) {
    it(`${option} exits 0 and prints to stderr only`, async () => {
      for (const kind of ENGINE_KINDS) {
        const result = await runEngineToExit(kind, [option]);
        assert.equal(result.code, 0, `${kind} ${option}\n${formatResult(result)}`);
        assert.equal(result.stdout, '', `${kind} ${option} must print nothing on stdout\n${formatResult(result)}`);
        assert.notEqual(result.stderr.trim(), '', `${kind} ${option} prints its text on stderr`);
      }
    });
  }

  it('-version names the program and the OpenSSL library on stderr', async () => {
    for (const kind of ENGINE_KINDS) {
      const result = await runEngineToExit(kind, ['-version']);
      assert.match(result.stderr, /OpenSSL 3\./, `${kind}\n${formatResult(result)}`);
    }
  });

  it('a configuration file that does not exist: exit 1 and a clear error naming it on stderr', async () => {
    const missing = '/nonexistent/stunnel-compat.conf';
    for (const kind of ENGINE_KINDS) {
      const result = await runEngineToExit(kind, [missing]);
      assert.equal(result.code, 1, `${kind}\n${formatResult(result)}`);
      assert.equal(result.stdout, '', `${kind} prints the error on stderr only\n${formatResult(result)}`);
      assert.match(result.stderr, /Invalid configuration file name/, `${kind}: stunnel's wording\n${formatResult(result)}`);
      assert.ok(result.stderr.includes(missing), `${kind} names the file\n${formatResult(result)}`);
      assert.match(result.stderr, /No such file or directory/, `${kind} says why\n${formatResult(result)}`);
    }
  });
});
