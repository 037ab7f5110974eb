// PEM text <-> DER: splitting a stunnel-style PEM file (certificates and a key, concatenated) into
// its blocks, and writing DER out as PEM.

/** One `-----BEGIN <label>----- ... -----END <label>-----` block, as found in the text. */
export interface PemBlock {
  readonly label: string;
  /** RFC 1421 headers such as `Proc-Type: 4,ENCRYPTED` (legacy OpenSSL encrypted keys), else ''. */
  readonly headers: string;
  /** The whole block, BEGIN and END lines included, usable as input to node:crypto. */
  readonly text: string;
}

const PEM_BLOCK_PATTERN =
  /-----BEGIN ([A-Z0-9 ]+)-----\r?\n((?:[A-Za-z-]+:[^\n]*\r?\n)*\r?\n)?[A-Za-z0-9+/=\s]*?-----END \1-----/g;

const PEM_LINE_LENGTH = 64;

export const parsePemBlocks = (text: string): PemBlock[] =>
  Array.from(text.matchAll(PEM_BLOCK_PATTERN), (match) => ({
    label: match[1] ?? '',
    headers: (match[2] ?? '').trim(),
    text: `${match[0]}\n`,
  }));

export const isCertificateBlock = (block: PemBlock): boolean => block.label === 'CERTIFICATE';

/** PKCS#8 (`PRIVATE KEY`, `ENCRYPTED PRIVATE KEY`) and the legacy `RSA/EC/DSA PRIVATE KEY` forms. */
export const isPrivateKeyBlock = (block: PemBlock): boolean => block.label.endsWith('PRIVATE KEY');

export const isEncryptedKeyBlock = (block: PemBlock): boolean =>
  block.label === 'ENCRYPTED PRIVATE KEY' || /^Proc-Type:\s*4,\s*ENCRYPTED/m.test(block.headers);

export const formatPem = (label: string, der: Uint8Array): string => {
  const base64 = Buffer.from(der).toString('base64');
  const lines: string[] = [];
  for (let offset = 0; offset < base64.length; offset += PEM_LINE_LENGTH) {
    lines.push(base64.slice(offset, offset + PEM_LINE_LENGTH));
  }
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
};
