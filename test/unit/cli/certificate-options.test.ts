// make-self-signed-cert's --help shows choices and defaults that src/certs defines in modules that
// load node-forge; the CLI declares its own copy to start fast. This keeps the copy true.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_DIGEST, DEFAULT_EC_CURVE, DEFAULT_KEY_TYPE, DEFAULT_RSA_BITS, DEFAULT_VALIDITY_DAYS } from '../../../src/certs/generate.js';
import { DIGESTS } from '../../../src/certs/x509-builder.js';
import { CERTIFICATE_DEFAULTS, CERTIFICATE_DIGESTS } from '../../../src/cli/commands/make-self-signed-cert.js';

test('the digests offered by --digest are the ones the certificate builder signs with', () => {
  assert.deepEqual([...CERTIFICATE_DIGESTS], [...DIGESTS]);
});

test('the defaults --help shows are the defaults generateSelfSigned applies', () => {
  assert.deepEqual(CERTIFICATE_DEFAULTS, {
    keyType: DEFAULT_KEY_TYPE,
    rsaBits: DEFAULT_RSA_BITS,
    ecCurve: DEFAULT_EC_CURVE,
    digest: DEFAULT_DIGEST,
    validityDays: DEFAULT_VALIDITY_DAYS,
  });
});
