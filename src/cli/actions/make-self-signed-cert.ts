// What `stunnelctl make-self-signed-cert` does (MAKE.SELF-SIGNED-CERT), loaded only when it runs
// (it is the one command that needs node-forge).
import { resolve } from 'node:path';
import { StunnelctlError } from '../../errors.js';
import { DEFAULT_DIGEST, generateSelfSigned, type SelfSignedOptions } from '../../certs/generate.js';
import type { EcCurve, KeyType } from '../../certs/key-pair.js';
import { writeKeyMaterialFile } from '../../certs/pem-file.js';
import type { Digest } from '../../certs/x509-builder.js';
import { findHome, loadHome } from '../../control/home.js';
import { createFileExistsError, isPresent } from '../../control/operator-file.js';
import type { CliContext } from '../context.js';
import { formatTable } from '../format.js';
import { resolveHome, type HomeOptions } from '../options.js';

export interface CertOptions extends HomeOptions {
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

const createCertificateOptions = (options: CertOptions): SelfSignedOptions => {
  const keyType = options.keyType ?? 'rsa';
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

export const runMakeSelfSignedCert = async (options: CertOptions, context: CliContext): Promise<void> => {
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
