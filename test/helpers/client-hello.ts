// A hand-built TLS 1.0 ClientHello, for peers that must offer what the worker refuses. No side effects on import.
import { randomBytes } from 'node:crypto';

/** A ClientHello offering TLS 1.0 only (record and handshake version 0x0301), two RSA suites, no extensions. */
export const buildTls10ClientHello = (): Buffer => {
  const body = Buffer.concat([
    Buffer.from([0x03, 0x01]),
    randomBytes(32),
    Buffer.from([0x00]),
    Buffer.from([0x00, 0x04, 0x00, 0x2f, 0x00, 0x35]),
    Buffer.from([0x01, 0x00]),
  ]);
  const handshake = Buffer.concat([Buffer.from([0x01, (body.length >> 16) & 0xff, (body.length >> 8) & 0xff, body.length & 0xff]), body]);
  return Buffer.concat([Buffer.from([0x16, 0x03, 0x01, (handshake.length >> 8) & 0xff, handshake.length & 0xff]), handshake]);
};
