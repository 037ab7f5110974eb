// `stunnelctl make-self-signed-cert` (MAKE.SELF-SIGNED-CERT): a production key pair and self-signed
// certificate in one PEM file (0600, atomic, never over an existing file without --force).
import { resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { StunnelctlError } from '../../errors.js';
import {
  DEFAULT_DIGEST,
  DEFAULT_EC_CURVE,
  DEFAULT_KEY_TYPE,
  DEFAULT_RSA_BITS,
  DEFAULT_VALIDITY_DAYS,
  generateSelfSigned,
  type SelfSignedOptions,
} from '../../certs/generate.js';
import { EC_CURVE_BITS, KEY_TYPES, type EcCurve, type KeyType } from '../../certs/key-pair.js';
import { writeKeyMaterialFile } from '../../certs/pem-file.js';
import { DIGESTS, type Digest } from '../../certs/x509-builder.js';
import { findHome, loadHome } from '../../control/home.js';
import { createFileExistsError, isPresent } from '../../control/operator-file.js';
import type { CliContext } from '../context.js';
import { formatTable } from '../format.js';
import { addHomeOption, parsePositiveInteger, resolveHome, type HomeOptions } from '../options.js';

interface CertOptions extends HomeOptions {
  out?: string;
  keyType?: KeyType;
  bits?: number;
  curve?: EcCurve;
  digest?: Digest;
  cn?: string;
  san?: string[];
  days?: number;
  force?: boolean;
}

const USAGE_HINT = 'stunnelctl make-self-signed-cert --help lists the options with their defaults';

/** `--san a,b --san c` -> [a, b, c]. */
const collectNames = (value: string, previous: string[] | undefined): string[] => {
  const names = value.split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (names.length === 0) throw new InvalidArgumentError('expected a host name or IP address');
  return [...(previous ?? []), ...names];
};

export const registerMakeSelfSignedCertCommand = (program: Command, context: CliContext): void => {
  addHomeOption(program.command('make-self-signed-cert'))
    .summary("write a production key + self-signed certificate, default the home's SERVER.PEM (MAKE.SELF-SIGNED-CERT)")
    .description(
      'MAKE.SELF-SIGNED-CERT: generate a private key and a self-signed X.509 v3 certificate into one PEM ' +
        "file (mode 0600, written atomically), by default the home's SERVER.PEM. Prints the certificate's\n" +
        'and the public key\'s SHA-256 fingerprints (MT9750 pins the public key). An existing file is ' +
        'only replaced with --force, and then kept as a backup. Needs no home when --out is given.',
    )
    .option('--out <file>', "where to write the PEM (default: the home's SERVER.PEM)")
    .addOption(new Option('--key-type <type>', `key type (default: ${DEFAULT_KEY_TYPE})`).choices(KEY_TYPES))
    .option('--bits <n>', `RSA key size: 2048, 3072 or 4096 (default: ${DEFAULT_RSA_BITS})`, parsePositiveInteger)
    .addOption(new Option('--curve <name>', `EC curve (default: ${DEFAULT_EC_CURVE})`).choices(Object.keys(EC_CURVE_BITS)))
    .addOption(new Option('--digest <name>', `signature digest (default: ${DEFAULT_DIGEST})`).choices(DIGESTS))
    .option('--cn <name>', 'subject common name (default: this host name)')
    .option('--san <names...>', 'subject alternative names, space- or comma-separated, or repeated (default: the CN, localhost, 127.0.0.1)', collectNames)
    .option('--days <n>', `validity in days (default: ${DEFAULT_VALIDITY_DAYS})`, parsePositiveInteger)
    .option('--force', 'replace an existing file (a backup of it is kept)')
    .action((options: CertOptions) => runMakeSelfSignedCert(options, context));
};

const createCertificateOptions = (options: CertOptions): SelfSignedOptions => {
  const keyType = options.keyType ?? DEFAULT_KEY_TYPE;
  if (keyType === 'ec' && options.bits !== undefined) {
    throw new StunnelctlError('SCTL_ERR_USAGE', '--bits is for RSA keys; an EC key\'s size follows from --curve', { hint: USAGE_HINT });
  }
  if (keyType === 'rsa' && options.curve !== undefined) {
    throw new StunnelctlError('SCTL_ERR_USAGE', '--curve is for EC keys: add --key-type ec', { hint: USAGE_HINT });
  }
  return {
    keyType,
    ...(options.bits === undefined ? {} : { rsaBits: options.bits }),
    ...(options.curve === undefined ? {} : { ecCurve: options.curve }),
    ...(options.digest === undefined ? {} : { digest: options.digest }),
    ...(options.cn === undefined ? {} : { commonName: options.cn }),
    ...(options.san === undefined ? {} : { subjectAltNames: options.san }),
    ...(options.days === undefined ? {} : { days: options.days }),
  };
};

const runMakeSelfSignedCert = async (options: CertOptions, context: CliContext): Promise<void> => {
  const { report } = context;
  // Only the default output needs a home; --out works anywhere.
  const home = options.out === undefined ? loadHome(resolveHome(options, context.io)) : findHome(resolveHome(options, context.io));
  const out = options.out === undefined ? (home?.files.serverPem ?? '') : resolve(options.out);
  const certificateOptions = createCertificateOptions(options);
  // Fail before spending time on a key; writeKeyMaterialFile still refuses atomically.
  if (options.force !== true && isPresent(out)) throw createFileExistsError([out]);
  const certificate = await generateSelfSigned(certificateOptions);
  const written = await writeKeyMaterialFile(out, certificate.pem, { force: options.force === true });
  const key = certificate.keyType === 'ec' ? `EC ${certificate.keyCurve ?? ''} key` : `${certificate.keyType.toUpperCase()} ${certificate.keyBits ?? ''}-bit key`;
  report.line(`wrote ${out}: ${key} and self-signed certificate (${(certificateOptions.digest ?? DEFAULT_DIGEST).toUpperCase().replace('SHA', 'SHA-')}), mode 0600`);
  formatTable([
    ['subject', certificate.subject],
    ['subject alt names', certificate.subjectAltNames.join(', ')],
    ['valid until', certificate.notAfter.toISOString()],
    ['certificate SHA-256', certificate.certFingerprintSha256],
    ['public key SHA-256', certificate.publicKeyFingerprintSha256],
    ['public key pin', certificate.publicKeyPinSha256],
  ]).forEach((row) => report.line(`  ${row}`));
  if (written.backupPath !== undefined) report.note(`the replaced file was kept as ${written.backupPath}`);
  if (home !== undefined && out === home.files.serverPem) {
    report.line(`next: set "cert = ${out}" in the service of ${home.files.config}, then stunnelctl reload-config`);
  }
};
