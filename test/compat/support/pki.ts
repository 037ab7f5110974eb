// A test CA generated per run with the openssl CLI (`openssl ca`, so that it can revoke and publish a
// CRL with `openssl ca -gencrl`), and the certificates the compatibility scenarios use: RSA-2048 and
// ECDSA P-256 server certificates for localhost, a good client, a revoked client, a self-signed
// "wrong" client outside the CA, and a server certificate for an SNI secondary. Keys are 0600 (stunnel
// warns about anything looser). No side effects on import.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from '../../helpers/processes.js';

export interface CertificateFiles {
  certFile: string;
  keyFile: string;
  /** Certificate followed by its key: a stunnel `cert =` file. */
  pemFile: string;
  commonName: string;
}

export interface CompatPki {
  ca: CertificateFiles;
  /** CRL of the CA listing `revoked`. */
  crlFile: string;
  serverRsa: CertificateFiles;
  serverEcdsa: CertificateFiles;
  client: CertificateFiles;
  revoked: CertificateFiles;
  /** Self-signed, not issued by the CA. */
  wrong: CertificateFiles;
  /** CN and SAN `secondary.example.org`, for SNI. */
  secondary: CertificateFiles;
}

/** Days a per-run test certificate is valid. */
export const VALIDITY_DAYS = 2;

/** Runs the openssl CLI; a failure throws with its stderr. */
export const openssl = async (args: readonly string[], what: string): Promise<void> => {
  const result = await runCommand('openssl', args);
  if (result.code !== 0) throw new Error(`openssl ${what} failed (exit ${result.code}): ${result.stderr}`);
};

/** The `openssl ca` configuration of a CA kept in `dir`: `leaf` certificates, `sub_ca` for an intermediate. */
const caConfig = (dir: string): string => `
[ ca ]
default_ca = test_ca
[ test_ca ]
dir = ${dir}
database = ${dir}/index.txt
new_certs_dir = ${dir}/issued
certificate = ${dir}/ca.crt.pem
private_key = ${dir}/ca.key.pem
serial = ${dir}/serial
crlnumber = ${dir}/crlnumber
default_md = sha256
default_days = ${VALIDITY_DAYS}
default_crl_days = ${VALIDITY_DAYS}
policy = any_name
copy_extensions = copy
unique_subject = no
[ any_name ]
commonName = supplied
[ leaf ]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
[ sub_ca ]
basicConstraints = critical,CA:true,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
`;

export const filesOf = (dir: string, name: string, commonName: string): CertificateFiles => ({
  certFile: join(dir, `${name}.crt.pem`),
  keyFile: join(dir, `${name}.key.pem`),
  pemFile: join(dir, `${name}.pem`),
  commonName,
});

/** An `openssl ca` directory; returns its config file. */
export const prepareCaDirectory = (caDir: string, serial: string): string => {
  mkdirSync(join(caDir, 'issued'), { recursive: true });
  writeFileSync(join(caDir, 'index.txt'), '');
  writeFileSync(join(caDir, 'serial'), `${serial}\n`);
  writeFileSync(join(caDir, 'crlnumber'), '1000\n');
  const configFile = join(caDir, 'ca.cnf');
  writeFileSync(configFile, caConfig(caDir));
  return configFile;
};

/** Key 0600, and the stunnel PEM (certificate then key) beside it. */
export const writeStunnelPem = (files: CertificateFiles): void => {
  chmodSync(files.keyFile, 0o600);
  writeFileSync(files.pemFile, Buffer.concat([readFileSync(files.certFile), readFileSync(files.keyFile)]), { mode: 0o600 });
};

type KeyKind = 'rsa' | 'ecdsa';
const newKeyArgs = (kind: KeyKind): string[] =>
  kind === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];

interface LeafRequest {
  name: string;
  commonName: string;
  subjectAltName?: string;
  key: KeyKind;
}

/** Key and CSR; many run in parallel (they share nothing). */
const requestLeaf = async (dir: string, request: LeafRequest): Promise<{ files: CertificateFiles; csr: string }> => {
  const files = filesOf(dir, request.name, request.commonName);
  const csr = join(dir, `${request.name}.csr.pem`);
  const args = ['req', '-new', ...newKeyArgs(request.key), '-nodes', '-subj', `/CN=${request.commonName}`, '-keyout', files.keyFile, '-out', csr];
  if (request.subjectAltName !== undefined) args.push('-addext', `subjectAltName=${request.subjectAltName}`);
  await openssl(args, `req for ${request.name}`);
  return { files, csr };
};

/** Generates the CA, signs every leaf (one at a time: `openssl ca` owns its serial and index files), revokes one, writes the CRL. */
export const createCompatPki = async (dir: string): Promise<CompatPki> => {
  const caDir = join(dir, 'ca');
  const configFile = prepareCaDirectory(caDir, '1000');
  const ca = filesOf(caDir, 'ca', 'stunnelctl compat test CA');
  const wrong = filesOf(dir, 'wrong', 'wrong');
  const localhostSan = 'DNS:localhost,IP:127.0.0.1,IP:::1';
  const [, , ...requests] = await Promise.all([
    openssl([
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', String(VALIDITY_DAYS), '-subj', `/CN=${ca.commonName}`,
      '-addext', 'basicConstraints=critical,CA:true', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      '-keyout', ca.keyFile, '-out', ca.certFile,
    ], 'req for the CA'),
    openssl([
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', String(VALIDITY_DAYS), '-subj', `/CN=${wrong.commonName}`,
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', wrong.keyFile, '-out', wrong.certFile,
    ], 'req for the self-signed client'),
    requestLeaf(dir, { name: 'server-rsa', commonName: 'localhost', subjectAltName: localhostSan, key: 'rsa' }),
    requestLeaf(dir, { name: 'server-ecdsa', commonName: 'localhost', subjectAltName: localhostSan, key: 'ecdsa' }),
    requestLeaf(dir, { name: 'client', commonName: 'client', key: 'rsa' }),
    requestLeaf(dir, { name: 'revoked', commonName: 'revoked', key: 'rsa' }),
    requestLeaf(dir, { name: 'secondary', commonName: 'secondary.example.org', subjectAltName: 'DNS:secondary.example.org', key: 'rsa' }),
  ]);
  chmodSync(ca.keyFile, 0o600);
  writeStunnelPem(wrong);
  const issued: CertificateFiles[] = [];
  for (const { files, csr } of requests) {
    await openssl(['ca', '-batch', '-config', configFile, '-extensions', 'leaf', '-notext', '-in', csr, '-out', files.certFile], `ca for ${files.certFile}`);
    writeStunnelPem(files);
    issued.push(files);
  }
  const [serverRsa, serverEcdsa, client, revoked, secondary] = issued as [CertificateFiles, CertificateFiles, CertificateFiles, CertificateFiles, CertificateFiles];
  await openssl(['ca', '-config', configFile, '-revoke', revoked.certFile], 'ca -revoke');
  const crlFile = join(caDir, 'crl.pem');
  await openssl(['ca', '-config', configFile, '-gencrl', '-out', crlFile], 'ca -gencrl');
  return { ca, crlFile, serverRsa, serverEcdsa, client, revoked, wrong, secondary };
};
