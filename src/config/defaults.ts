// stunnelctl's defaults where they are not a single option's: the TLS lists and levels.
import type { SslVersion } from './values.js';

/** Forward-secret AEAD suites only: stunnel's HIGH default also offers static-RSA suites (README). */
export const DEFAULT_CIPHERS =
  'ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:' +
  'ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256';
export const DEFAULT_CIPHERSUITES = 'TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256';
export const DEFAULT_CURVES = 'X25519:P-256:X448:P-521:P-384';
export const DEFAULT_DEBUG_LEVEL = 5;
export const DEFAULT_MIN_VERSION: SslVersion = 'TLSv1.2';
/** A handshake deadline well below TIMEOUTbusy's 300 s, so stalled handshakes cannot pile up. */
export const DEFAULT_HANDSHAKE_TIMEOUT_SECONDS = 60;

