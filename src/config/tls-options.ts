// stunnel's `options = NAME` / `options = -NAME`: OpenSSL SSL_OP_* flags by name, as Node exposes them.
import { constants } from 'node:crypto';
import { OptionValueError } from './diagnostics.js';

export interface TlsOptionSetting {
  name: string;
  /** `-NAME` clears a default instead of setting it. */
  clear: boolean;
}

const flagValue = (name: string): number | undefined =>
  (constants as unknown as Record<string, number | undefined>)[`SSL_OP_${name}`];

export const SUPPORTED_TLS_OPTIONS: readonly string[] = Object.keys(constants)
  .filter((key) => key.startsWith('SSL_OP_') && key !== 'SSL_OP_ALL')
  .map((key) => key.slice('SSL_OP_'.length));

export const parseTlsOption = (value: string): TlsOptionSetting => {
  const clear = value.startsWith('-');
  const wanted = (clear ? value.slice(1) : value).toUpperCase();
  // Case-insensitive, as stunnel: OpenSSL's own names are mixed-case (NO_TLSv1_3).
  const name = SUPPORTED_TLS_OPTIONS.find((candidate) => candidate.toUpperCase() === wanted);
  if (name === undefined) throw new OptionValueError('Illegal TLS option');
  return { name, clear };
};

/** The SSL_OP_* bits a service sets: its `options` lines applied in order over stunnel's defaults. */
export const computeSecureOptions = (settings: readonly TlsOptionSetting[], extra: readonly string[]): number => {
  const names = new Set(['NO_SSLv2', 'NO_SSLv3', 'NO_COMPRESSION', ...extra]);
  for (const setting of settings) {
    if (setting.clear) names.delete(setting.name);
    else names.add(setting.name);
  }
  let bits = 0;
  for (const name of names) bits |= flagValue(name) ?? 0;
  return bits;
};
