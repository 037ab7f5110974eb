// PSKsecrets files: one `IDENTITY:KEY` per line; a key of hex digits is decoded, any other is taken
// as ASCII; keys shorter than 16 bytes are refused, as in stunnel.
import { readFileSync } from 'node:fs';

export const MIN_PSK_KEY_BYTES = 16;

export type PskSecretsResult = { ok: true; keys: Map<string, Buffer> } | { ok: false; message: string };

export const parsePskSecrets = (text: string): PskSecretsResult => {
  const keys = new Map<string, Buffer>();
  const lines = text.split(/\r?\n/);
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return { ok: false, message: `PSKsecrets line ${index + 1}: No key found` };
    const identity = line.slice(0, colon);
    const keyText = line.slice(colon + 1);
    const key = /^(?:[0-9A-Fa-f]{2})+$/.test(keyText) ? Buffer.from(keyText, 'hex') : Buffer.from(keyText, 'latin1');
    if (key.length < MIN_PSK_KEY_BYTES) return { ok: false, message: `PSKsecrets line ${index + 1}: Key shorter than ${MIN_PSK_KEY_BYTES} bytes` };
    keys.set(identity, key);
  }
  if (keys.size === 0) return { ok: false, message: 'Failed to read PSK secrets: the file holds no IDENTITY:KEY line' };
  return { ok: true, keys };
};

export const loadPskSecrets = (path: string): PskSecretsResult => parsePskSecrets(readFileSync(path, 'utf8'));
