// Which server-side sessions engine processes copy to each other: the protocol version is read from
// real OpenSSL sessions (a TLS 1.2 and a TLS 1.3 handshake on 127.0.0.1), not from hand-made bytes.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { constants } from 'node:crypto';
import { once } from 'node:events';
import { createServer, connect, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { needsSharing, sessionProtocolVersion } from '../../../src/proxy/session-cache.js';
import { makeTempDir, removeTempDir } from '../../helpers/temp-dir.js';
import { createSelfSigned, readKeyPair } from '../../integration/support/certificates.js';

const serverSessions = async (keyPair: { cert: Buffer; key: Buffer }, version: 'TLSv1.2' | 'TLSv1.3'): Promise<Buffer[]> => {
  const sessions: Buffer[] = [];
  const server = createServer({ ...keyPair, minVersion: version, maxVersion: version }, (socket) => socket.end('x'));
  server.on('newSession', (_id: Buffer, session: Buffer, done: () => void) => {
    sessions.push(session);
    done();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    // A TLS 1.2 client without ticket support: the server then keeps the session under its ID.
    const client: TLSSocket = connect({
      host: '127.0.0.1', port: (server.address() as AddressInfo).port, rejectUnauthorized: false, minVersion: version, maxVersion: version,
      secureOptions: constants.SSL_OP_NO_TICKET,
    });
    client.resume();
    await once(client, 'close');
  } finally {
    server.close();
  }
  return sessions;
};

describe('session sharing between engine processes', () => {
  it('reads TLS 1.2 (0x0303) and TLS 1.3 (0x0304) from OpenSSL sessions', async () => {
    const dir = makeTempDir('session-sharing');
    let tls12: Buffer[];
    let tls13: Buffer[];
    try {
      const keyPair = readKeyPair(await createSelfSigned(dir, 'server', 'localhost'));
      tls12 = await serverSessions(keyPair, 'TLSv1.2');
      tls13 = await serverSessions(keyPair, 'TLSv1.3');
    } finally {
      removeTempDir(dir);
    }
    assert.ok(tls12.length > 0 && tls13.length > 0, `sessions reported: TLS 1.2 ${tls12.length}, TLS 1.3 ${tls13.length}`);
    for (const session of tls12) assert.equal(sessionProtocolVersion(session), 0x0303);
    for (const session of tls13) assert.equal(sessionProtocolVersion(session), 0x0304);
    // TLS 1.3 with tickets resumes from the ticket: not copied; TLS 1.2 is; without tickets, all are.
    assert.equal(needsSharing(tls13[0] ?? Buffer.alloc(0), false), false);
    assert.equal(needsSharing(tls13[0] ?? Buffer.alloc(0), true), true);
    assert.equal(needsSharing(tls12[0] ?? Buffer.alloc(0), false), true);
  });

  it('treats bytes that are not a session as needing a cache (never drops a resumable session)', () => {
    assert.equal(sessionProtocolVersion(Buffer.from('not a session')), undefined);
    assert.equal(needsSharing(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]), false), true);
  });
});
