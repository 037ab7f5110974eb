// A two-level test PKI generated per run with the openssl CLI, for the trust-store scenarios: a root
// CA and an intermediate CA it issued, each able to revoke (`openssl ca`) and publish a CRL; a
// server certificate and two clients from the root (one revoked in the root's CRL), one client from
// the intermediate, a self-signed client; and directories made by `openssl rehash`. Keys are 0600. No side effects on import.
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VALIDITY_DAYS, filesOf, openssl, prepareCaDirectory, writeStunnelPem } from './pki.js';
import type { CertificateFiles } from './pki.js';

export interface TwoLevelPki {
  root: CertificateFiles;
  intermediate: CertificateFiles;
  /** The root's CRL (lists `revoked`) and the intermediate's (lists nothing). */
  rootCrl: string;
  intermediateCrl: string;
  /** Issued by the root: localhost server, a good client, a client revoked in the root's CRL. */
  server: CertificateFiles;
  client: CertificateFiles;
  revoked: CertificateFiles;
  /** Issued by the intermediate; `chainFile` is its certificate followed by the intermediate's. */
  intermediateClient: CertificateFiles & { chainFile: string };
  /** A self-signed client certificate, trusted only where it is itself a trust anchor. */
  selfSigned: CertificateFiles;
}

/** Key, CSR and `openssl ca` signature with `extensions`; writes the stunnel PEM (certificate + key). */
const issue = async (
  dir: string, name: string, commonName: string, caConfigFile: string, extensions: 'leaf' | 'sub_ca', subjectAltName?: string,
): Promise<CertificateFiles> => {
  const files = filesOf(dir, name, commonName);
  const csr = join(dir, `${name}.csr.pem`);
  const request = ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${commonName}`, '-keyout', files.keyFile, '-out', csr];
  if (subjectAltName !== undefined) request.push('-addext', `subjectAltName=${subjectAltName}`);
  await openssl(request, `req for ${name}`);
  await openssl(['ca', '-batch', '-config', caConfigFile, '-extensions', extensions, '-notext', '-in', csr, '-out', files.certFile], `ca for ${name}`);
  writeStunnelPem(files);
  return files;
};

export const createTwoLevelPki = async (dir: string): Promise<TwoLevelPki> => {
  const rootDir = join(dir, 'root-ca');
  const intermediateDir = join(dir, 'intermediate-ca');
  // Distinct serials: a CRL wrongly matched by serial alone could not pass for the right one.
  const rootConfig = prepareCaDirectory(rootDir, '1000');
  const intermediateConfig = prepareCaDirectory(intermediateDir, '5000');
  const root = filesOf(rootDir, 'ca', 'stunnelctl trust test root CA');
  await openssl([
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', String(VALIDITY_DAYS), '-subj', `/CN=${root.commonName}`,
    '-addext', 'basicConstraints=critical,CA:true', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', root.keyFile, '-out', root.certFile,
  ], 'req for the root CA');
  chmodSync(root.keyFile, 0o600);
  const selfSigned = filesOf(dir, 'selfsigned', 'selfsigned');
  await openssl([
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', String(VALIDITY_DAYS), '-subj', `/CN=${selfSigned.commonName}`,
    '-keyout', selfSigned.keyFile, '-out', selfSigned.certFile,
  ], 'req for the self-signed client');
  chmodSync(selfSigned.keyFile, 0o600);
  const intermediateIssued = await issue(dir, 'intermediate', 'stunnelctl trust test intermediate CA', rootConfig, 'sub_ca');
  const intermediate = filesOf(intermediateDir, 'ca', intermediateIssued.commonName);
  copyFileSync(intermediateIssued.certFile, intermediate.certFile);
  copyFileSync(intermediateIssued.keyFile, intermediate.keyFile);
  chmodSync(intermediate.keyFile, 0o600);
  const server = await issue(dir, 'server', 'localhost', rootConfig, 'leaf', 'DNS:localhost,IP:127.0.0.1');
  const client = await issue(dir, 'client', 'client', rootConfig, 'leaf');
  const revoked = await issue(dir, 'revoked', 'revoked', rootConfig, 'leaf');
  const intermediateLeaf = await issue(dir, 'intclient', 'intclient', intermediateConfig, 'leaf');
  const chainFile = join(dir, 'intclient.chain.pem');
  writeFileSync(chainFile, Buffer.concat([readFileSync(intermediateLeaf.certFile), readFileSync(intermediate.certFile)]));
  await openssl(['ca', '-config', rootConfig, '-revoke', revoked.certFile], 'ca -revoke');
  const rootCrl = join(rootDir, 'crl.pem');
  const intermediateCrl = join(intermediateDir, 'crl.pem');
  await openssl(['ca', '-config', rootConfig, '-gencrl', '-out', rootCrl], 'ca -gencrl (root)');
  await openssl(['ca', '-config', intermediateConfig, '-gencrl', '-out', intermediateCrl], 'ca -gencrl (intermediate)');
  return { root, intermediate, rootCrl, intermediateCrl, server, client, revoked, intermediateClient: { ...intermediateLeaf, chainFile }, selfSigned };
};

/**
 * A directory holding copies of `files` under their own names; with `rehash`, also the hash links
 * `openssl rehash` makes (HASH.N for certificates, HASH.rN for CRLs), as an operator would.
 */
export const makeTrustDirectory = async (directory: string, files: Readonly<Record<string, string>>, rehash: boolean): Promise<string> => {
  mkdirSync(directory, { recursive: true });
  for (const [name, source] of Object.entries(files)) copyFileSync(source, join(directory, name));
  if (rehash) await openssl(['rehash', directory], `rehash ${directory}`);
  return directory;
};
