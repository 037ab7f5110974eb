// The key log lines of stunnel (STUNNEL-REFERENCE §7) per connection: lines grouped by connection id
// in the order connections were accepted, and reduced to the events log monitoring depends on, so the
// two engines' logs can be compared as data. No side effects on import.
import type { LogLine } from '../../helpers/stunnel-log.js';

/** Thread ids that are not connections (stunnel: ui/main/cron; 5.69+: per-second/...). */
const NON_CONNECTION_IDS = new Set(['ui', 'main', 'cron', 'per-second', 'per-minute', 'per-day']);

const ACCEPTED = /^Service \[(.+)\] accepted connection from (\S+)$/;
const HANDSHAKE = /^TLS (accepted|connected): (new session negotiated|previous session reused|PSK)$/;
const CONNECTED = /^s_connect: connected (\S+)$/;
const CERT_ACCEPTED = /^Certificate accepted at depth=0: (.*)$/;
const CERT_REJECTED = /^Rejected by CERT at depth=0: (.*)$/;
const CIPHERSUITE = /^(TLSv1(?:\.[0-3])?) ciphersuite: (.*)$/;
const CLOSE = /^Connection (closed|reset|[a-z]+\/[a-z]+): (\d+) byte\(s\) sent to TLS, (\d+) byte\(s\) sent to socket$/;
const REDIRECT = /^Redirecting connection$/;

export interface CloseSummary {
  /** `closed`, `reset`, or stunnel's `A/B` when the two sockets ended differently. */
  status: string;
  toTls: number;
  toSocket: number;
}

export interface ConnectionRecord {
  id: string;
  /** Service of the `accepted connection from` line. */
  service: string | null;
  /** Peer address of that line, as logged. */
  peer: string | null;
  /** `accepted: new session negotiated`, `connected: previous session reused`, ... */
  handshake: string | null;
  /** Protocol of the `TLSvX ciphersuite:` line. */
  protocol: string | null;
  /** The rest of that line: `NAME (N-bit encryption)`. */
  ciphersuite: string | null;
  /** Every `s_connect: connected ADDR` target, in order. */
  targets: string[];
  /** `accepted CN=x` / `rejected CN=x` for depth 0. */
  certificate: string | null;
  redirected: boolean;
  close: CloseSummary | null;
  /** Every text line of the connection, for assertion messages. */
  texts: string[];
}

const emptyRecord = (id: string): ConnectionRecord => ({
  id, service: null, peer: null, handshake: null, protocol: null, ciphersuite: null, targets: [], certificate: null, redirected: false, close: null, texts: [],
});

const applyLine = (record: ConnectionRecord, text: string): void => {
  record.texts.push(text);
  const accepted = ACCEPTED.exec(text);
  if (accepted !== null) {
    record.service = accepted[1] ?? null;
    record.peer = accepted[2] ?? null;
  }
  const handshake = HANDSHAKE.exec(text);
  if (handshake !== null) record.handshake = `${handshake[1]}: ${handshake[2]}`;
  const cipher = CIPHERSUITE.exec(text);
  if (cipher !== null) {
    record.protocol = cipher[1] ?? null;
    record.ciphersuite = cipher[2] ?? null;
  }
  const connected = CONNECTED.exec(text);
  if (connected !== null) record.targets.push(connected[1] ?? '');
  const certAccepted = CERT_ACCEPTED.exec(text);
  if (certAccepted !== null) record.certificate = `accepted ${certAccepted[1]}`;
  const certRejected = CERT_REJECTED.exec(text);
  if (certRejected !== null) record.certificate = `rejected ${certRejected[1]}`;
  if (REDIRECT.test(text)) record.redirected = true;
  const close = CLOSE.exec(text);
  if (close !== null) record.close = { status: close[1] ?? '', toTls: Number(close[2]), toSocket: Number(close[3]) };
};

/**
 * Connections of a log in the order they were accepted: by their numeric id, which both engines
 * count up per accepted connection (any other id after them, in the order it first appeared). Not
 * by the order of first lines: stunnelctl's engine processes send their lines to the worker in
 * batches, so a connection one process served can reach the log after a later one another process
 * served (seen in CI: a client's next connection, on the other process, logged first).
 */
export const groupConnections = (lines: readonly LogLine[]): ConnectionRecord[] => {
  const byId = new Map<string, ConnectionRecord>();
  for (const line of lines) {
    if (NON_CONNECTION_IDS.has(line.id)) continue;
    let record = byId.get(line.id);
    if (record === undefined) {
      record = emptyRecord(line.id);
      byId.set(line.id, record);
    }
    applyLine(record, line.text);
  }
  const records = [...byId.values()];
  const numbered = records.filter((record) => /^\d+$/.test(record.id)).sort((a, b) => Number(a.id) - Number(b.id));
  return [...numbered, ...records.filter((record) => !/^\d+$/.test(record.id))];
};

/**
 * What two engines must agree on for one connection. `close` is `closed` or `reset` (stunnel's
 * `reset/closed` and `closed/reset` count as reset here; the exact word is compared by its own test).
 */
export interface ConnectionOutcome {
  service: string | null;
  handshake: string | null;
  targets: string[];
  certificate: string | null;
  redirected: boolean;
  close: 'closed' | 'reset' | null;
  toTls: number | null;
  toSocket: number | null;
}

export const outcomeOf = (record: ConnectionRecord): ConnectionOutcome => ({
  service: record.service,
  handshake: record.handshake,
  targets: record.targets,
  certificate: record.certificate,
  redirected: record.redirected,
  close: record.close === null ? null : record.close.status === 'closed' ? 'closed' : 'reset',
  toTls: record.close?.toTls ?? null,
  toSocket: record.close?.toSocket ?? null,
});

/** The connection's lines, for an assertion message. */
export const describeRecord = (record: ConnectionRecord): string => `[${record.id}] ${record.texts.join('\n    ')}`;
