// Reports what a stunnel PEM file holds (its first certificate, and whether the file's private key
// belongs to it), read with Node's native X509Certificate. Every failure is SCTL_ERR_CERT.

import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { StunnelctlError, getSystemErrorCode } from '../errors.js';
import { summarizeCertificate } from './certificate-summary.js';
import type { CertificateSummary } from './certificate-summary.js';
import { isCertificateBlock, isEncryptedKeyBlock, isPrivateKeyBlock, parsePemBlocks } from './pem-blocks.js';
import type { PemBlock } from './pem-blocks.js';

/** The file's private key: none, the certificate's own, a foreign one, or one behind a passphrase. */
export type PrivateKeyStatus = 'absent' | 'matching' | 'mismatched' | 'encrypted';

export interface CertificateInspection extends CertificateSummary {
  /** The file name (or the label given to inspectPem), as used in messages. */
  readonly source: string;
  /** Certificates in the file; the first is the one stunnel serves, the others its chain. */
  readonly certificateCount: number;
  readonly privateKey: PrivateKeyStatus;
}

const PEM_LAYOUT_HINT =
  'stunnel expects PEM: the certificate (-----BEGIN CERTIFICATE-----), then its private key; ' +
  '"stunnelctl make-self-signed-cert" writes such a file';

const readCertificate = (block: PemBlock, source: string): X509Certificate => {
  try {
    return new X509Certificate(block.text);
  } catch (error) {
    throw new StunnelctlError('SCTL_ERR_CERT', `${source}: the first certificate cannot be parsed`, {
      hint: 'The CERTIFICATE block is damaged; replace the file, e.g. with "stunnelctl make-self-signed-cert"',
      cause: error,
    });
  }
};

const readPrivateKey = (block: PemBlock, source: string): KeyObject => {
  try {
    return createPrivateKey(block.text);
  } catch (error) {
    throw new StunnelctlError('SCTL_ERR_CERT', `${source}: the private key (${block.label}) cannot be parsed`, {
      hint: 'The key block is damaged; check it with "openssl pkey -noout -in FILE"',
      cause: error,
    });
  }
};

const getPrivateKeyStatus = (
  certificate: X509Certificate,
  keyBlock: PemBlock | undefined,
  source: string,
): PrivateKeyStatus => {
  if (keyBlock === undefined) {
    return 'absent';
  }
  if (isEncryptedKeyBlock(keyBlock)) {
    return 'encrypted';
  }
  return certificate.checkPrivateKey(readPrivateKey(keyBlock, source)) ? 'matching' : 'mismatched';
};

/** Inspects PEM text; `source` names it in messages. */
export const inspectPem = (text: string, source = 'PEM text'): CertificateInspection => {
  const blocks = parsePemBlocks(text);
  const certificateBlocks = blocks.filter(isCertificateBlock);
  const [firstCertificateBlock] = certificateBlocks;
  if (firstCertificateBlock === undefined) {
    const binary = !text.includes('-----BEGIN ');
    throw new StunnelctlError(
      'SCTL_ERR_CERT',
      `${source}: no PEM certificate found${binary ? ' (the file is not PEM text; DER?)' : ''}`,
      {
        hint: binary
          ? `Convert a DER certificate with "openssl x509 -inform DER -in ${source} -out ${source}.pem"; ` +
            PEM_LAYOUT_HINT
          : PEM_LAYOUT_HINT,
      },
    );
  }
  const certificate = readCertificate(firstCertificateBlock, source);
  return {
    ...summarizeCertificate(certificate),
    source,
    certificateCount: certificateBlocks.length,
    privateKey: getPrivateKeyStatus(certificate, blocks.find(isPrivateKeyBlock), source),
  };
};

export const inspectCertificateFile = async (path: string): Promise<CertificateInspection> => {
  let text: string;
  try {
    text = await readFile(path, 'latin1');
  } catch (error) {
    const code = getSystemErrorCode(error);
    throw new StunnelctlError('SCTL_ERR_CERT', `${path}: cannot read the certificate file (${code ?? 'error'})`, {
      hint:
        code === 'ENOENT'
          ? 'Check the path, or create the file with "stunnelctl make-self-signed-cert"'
          : 'Check that the file is readable by this user (key files are mode 0600)',
      cause: error,
    });
  }
  return inspectPem(text, path);
};
