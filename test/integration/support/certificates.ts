// Per-run X.509 material from the OpenSSL CLI for verification tests: a test CA, leaves it signs, and
// self-signed certificates outside it. Nothing is committed; everything lives in the test's temp dir.
// No side effects on import.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from '../../helpers/processes.js';

export interface CertificateFiles {
  certFile: string;
  keyFile: string;
  /** Certificate followed by its key (a stunnel `cert =` file). */
  pemFile: string;
}

const VALIDITY_DAYS = 2;

interface IssueOptions {
  dir: string;
  name: string;
  commonName: string;
  /** `subjectAltName` value, e.g. `DNS:server.example`; none when omitted. */
  subjectAltName?: string;
  /** Signing CA; self-signed when omitted. */
  issuer?: CertificateFiles;
  isCa?: boolean;
}

const issue = async (options: IssueOptions): Promise<CertificateFiles> => {
  const certFile = join(options.dir, `${options.name}.crt.pem`);
  const keyFile = join(options.dir, `${options.name}.key.pem`);
  const pemFile = join(options.dir, `${options.name}.pem`);
  const args = [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', String(VALIDITY_DAYS),
    '-subj', `/CN=${options.commonName}`, '-keyout', keyFile, '-out', certFile,
    '-addext', options.isCa === true ? 'basicConstraints=critical,CA:true' : 'basicConstraints=critical,CA:false',
    '-addext', options.isCa === true ? 'keyUsage=critical,keyCertSign,cRLSign' : 'keyUsage=critical,digitalSignature,keyEncipherment',
  ];
  if (options.subjectAltName !== undefined) args.push('-addext', `subjectAltName=${options.subjectAltName}`);
  if (options.issuer !== undefined) args.push('-CA', options.issuer.certFile, '-CAkey', options.issuer.keyFile);
  const result = await runCommand('openssl', args);
  if (result.code !== 0) throw new Error(`openssl req for ${options.name} failed: ${result.stderr}`);
  chmodSync(keyFile, 0o600);
  writeFileSync(pemFile, Buffer.concat([readFileSync(certFile), readFileSync(keyFile)]), { mode: 0o600 });
  return { certFile, keyFile, pemFile };
};

export const createCertificateAuthority = (dir: string, name = 'test-ca'): Promise<CertificateFiles> =>
  issue({ dir, name, commonName: `stunnelctl ${name}`, isCa: true });

export const issueLeaf = (
  dir: string,
  issuer: CertificateFiles,
  name: string,
  commonName: string,
  subjectAltName?: string,
): Promise<CertificateFiles> => issue({ dir, name, commonName, issuer, ...(subjectAltName === undefined ? {} : { subjectAltName }) });

export const createSelfSigned = (dir: string, name: string, commonName: string, subjectAltName?: string): Promise<CertificateFiles> =>
  issue({ dir, name, commonName, ...(subjectAltName === undefined ? {} : { subjectAltName }) });

/** Key and certificate contents, as `tls.connect` / `tls.createServer` take them. */
export const readKeyPair = (files: CertificateFiles): { cert: Buffer; key: Buffer } => ({
  cert: readFileSync(files.certFile),
  key: readFileSync(files.keyFile),
});
