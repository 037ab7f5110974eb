// How the compatibility scenarios read a log: connections grouped by id and put in accept order,
// also when an engine process's batch of lines reached the log after a later connection's (the
// order CI once saw from stunnelctl's two engine processes).
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { parseLogLine } from '../helpers/stunnel-log.js';
import type { LogLine } from '../helpers/stunnel-log.js';
import { groupConnections } from './support/log-events.js';

const lines = (raw: readonly string[]): LogLine[] => raw.map((text) => {
  const line = parseLogLine(text);
  assert.ok(line !== undefined, `a log line: ${text}`);
  return line;
});

describe('groupConnections', () => {
  it('orders connections by their numeric id, not by where their first line landed', () => {
    const records = groupConnections(lines([
      '2026.11.26 10:00:00 LOG5[main]: Accepting new connections',
      '2026.11.26 10:00:01 LOG5[3]: Service [s] accepted connection from 127.0.0.1:40003',
      '2026.11.26 10:00:01 LOG3[3]: SSL_accept: error:0A0000C7:SSL routines::peer did not return a certificate',
      '2026.11.26 10:00:01 LOG5[3]: Connection reset/closed: 0 byte(s) sent to TLS, 0 byte(s) sent to socket',
      '2026.11.26 10:00:01 LOG5[2]: Service [s] accepted connection from 127.0.0.1:40002',
      '2026.11.26 10:00:01 LOG4[2]: Rejected by CERT at depth=0: CN=wrong',
      '2026.11.26 10:00:01 LOG5[10]: Service [s] accepted connection from 127.0.0.1:40010',
      '2026.11.26 10:00:01 LOG5[2]: Connection reset/closed: 0 byte(s) sent to TLS, 0 byte(s) sent to socket',
    ]));
    assert.deepEqual(records.map((record) => record.id), ['2', '3', '10']);
    assert.equal(records[0]?.certificate, 'rejected CN=wrong');
    assert.equal(records[1]?.certificate, null);
    assert.equal(records[1]?.close?.status, 'reset/closed');
    assert.equal(records[2]?.close, null);
  });

  it('leaves ids that are not numbers after the numbered ones, in the order they appeared', () => {
    const records = groupConnections(lines([
      '2026.11.26 10:00:01 LOG5[b]: Service [s] accepted connection from 127.0.0.1:40001',
      '2026.11.26 10:00:01 LOG5[1]: Service [s] accepted connection from 127.0.0.1:40002',
      '2026.11.26 10:00:01 LOG5[a]: Service [s] accepted connection from 127.0.0.1:40003',
      '2026.11.26 10:00:01 LOG5[ui]: Configuration successful',
    ]));
    assert.deepEqual(records.map((record) => record.id), ['1', 'b', 'a']);
  });
});
