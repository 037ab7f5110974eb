// `stunnelctl make-self-signed-cert` (MAKE.SELF-SIGNED-CERT): its options, help and exit codes; the
// work is in actions/make-self-signed-cert.ts, loaded only when the command runs.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { EXIT } from '../../errors.js';
import { EC_CURVE_BITS, KEY_TYPES } from '../../certs/key-pair.js';
import { COMMON_EXIT_CODES, addCommandHelp } from '../command-help.js';
import type { CliContext } from '../context.js';
import { addHomeOption, parsePositiveInteger } from '../options.js';
import type { CertOptions } from '../actions/make-self-signed-cert.js';

/**
 * The digests and defaults --help shows. src/certs/generate.ts and x509-builder.ts hold the real
 * ones but load node-forge, which declaring the CLI must not (status starts in < 250 ms);
 * test/unit/cli/certificate-options.test.ts fails when the two drift apart.
 */
export const CERTIFICATE_DIGESTS = ['sha256', 'sha384', 'sha512'] as const;
export const CERTIFICATE_DEFAULTS = { keyType: 'rsa', rsaBits: 2048, ecCurve: 'prime256v1', digest: 'sha256', validityDays: 825 } as const;

/** `--san a,b --san c` -> [a, b, c]. */
const collectNames = (value: string, previous: string[] | undefined): string[] => {
  const names = value.split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (names.length === 0) throw new InvalidArgumentError('expected a host name or IP address');
  return [...(previous ?? []), ...names];
};

export const registerMakeSelfSignedCertCommand = (program: Command, context: CliContext): void => {
  const command = addHomeOption(program.command('make-self-signed-cert'))
    .summary("write a production key + self-signed certificate, default the home's SERVER.PEM (MAKE.SELF-SIGNED-CERT)")
    .description(
      'MAKE.SELF-SIGNED-CERT: generate a private key and a self-signed X.509 v3 certificate into one PEM ' +
        "file (mode 0600, written atomically), by default the home's SERVER.PEM. Prints the certificate's " +
        'and the public key\'s SHA-256 fingerprints (MT9750 pins the public key). An existing file is ' +
        'only replaced with --force, and then kept as a backup. Needs no home when --out is given.',
    )
    .option('--out <file>', "where to write the PEM (default: the home's SERVER.PEM)")
    .addOption(new Option('--key-type <type>', `key type (default: ${CERTIFICATE_DEFAULTS.keyType})`).choices(KEY_TYPES))
    .option('--bits <n>', `RSA key size: 2048, 3072 or 4096 (default: ${CERTIFICATE_DEFAULTS.rsaBits})`, parsePositiveInteger)
    .addOption(new Option('--curve <name>', `EC curve (default: ${CERTIFICATE_DEFAULTS.ecCurve})`).choices(Object.keys(EC_CURVE_BITS)))
    .addOption(new Option('--digest <name>', `signature digest (default: ${CERTIFICATE_DEFAULTS.digest})`).choices(CERTIFICATE_DIGESTS))
    .option('--cn <name>', 'subject common name (default: this host name)')
    .option('--san <names...>', 'subject alternative names, space- or comma-separated, or repeated (default: the CN, localhost, 127.0.0.1)', collectNames)
    .option('--days <n>', `validity in days (default: ${CERTIFICATE_DEFAULTS.validityDays})`, parsePositiveInteger)
    .option('--force', 'replace an existing file (a backup of it is kept)')
    .action(async (options: CertOptions) => {
      const { runMakeSelfSignedCert } = await import('../actions/make-self-signed-cert.js');
      await runMakeSelfSignedCert(options, context);
    });
  addCommandHelp(command, {
    examples: [
      { command: 'stunnelctl make-self-signed-cert --home /srv/stunnel --cn mt9750.example.com', what: "RSA 2048 / SHA-256 into the home's SERVER.PEM, valid 825 days" },
      { command: 'stunnelctl make-self-signed-cert --out /etc/stunnel/xcom.pem --key-type ec --san xcom.example.com,10.0.0.5', what: 'an EC P-256 key for another file, with two alternative names' },
      { command: 'stunnelctl make-self-signed-cert --home /srv/stunnel --days 365 --force', what: 'renew it; the old file is kept as SERVER.PEM.bak-<time>' },
    ],
    exitCodes: [
      { code: EXIT.OK, meaning: 'written; the fingerprints are printed' },
      { code: EXIT.FAILURE, meaning: 'the file exists (use --force), or the key or file could not be made' },
      { ...COMMON_EXIT_CODES.usage, meaning: 'usage error, e.g. --bits with --key-type ec' },
      { ...COMMON_EXIT_CODES.noHome, meaning: 'no home (and no --out)' },
    ],
  });
};
