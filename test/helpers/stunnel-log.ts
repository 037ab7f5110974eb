// Reading stunnel-format logs (`YYYY.MM.DD HH:MM:SS LOG<n>[<id>]: text`, STUNNEL-REFERENCE §7):
// parse lines, find the key events of one connection, and wait for a line to appear.
import { readFileSync } from 'node:fs';
import { waitFor } from './wait.js';

export interface LogLine {
  raw: string;
  timestamp: string;
  level: number;
  id: string;
  text: string;
}

const LOG_LINE = /^(\d{4}\.\d{2}\.\d{2} \d{2}:\d{2}:\d{2}) LOG([0-7])\[([^\]]+)\]: (.*)$/;

export const parseLogLine = (raw: string): LogLine | undefined => {
  const match = LOG_LINE.exec(raw);
  if (match === null) return undefined;
  const [, timestamp = '', level = '', id = '', text = ''] = match;
  return { raw, timestamp, level: Number(level), id, text };
};

/** The raw lines of a log file; [] when it does not exist (yet). */
export const readRawLines = (path: string): string[] => {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return text.split('\n').filter((line) => line !== '');
};

/** Lines that are not in stunnel's format: each is a defect of the logger. */
export const findMalformedLines = (path: string): string[] =>
  readRawLines(path).filter((line) => parseLogLine(line) === undefined);

export const readLogLines = (path: string): LogLine[] =>
  readRawLines(path).flatMap((line) => {
    const parsed = parseLogLine(line);
    return parsed === undefined ? [] : [parsed];
  });

/** Waits until `path` holds a line whose text matches `pattern`; returns the first such line. */
export const waitForLogLine = (path: string, pattern: RegExp, timeoutMs?: number): Promise<LogLine> =>
  waitFor(() => readLogLines(path).find((line) => pattern.test(line.text)), {
    what: `a log line matching ${pattern} in ${path}`,
    timeoutMs,
  });

export const acceptedLinePattern = (service: string, peerPort: number): RegExp =>
  new RegExp(`^Service \\[${escapeRegExp(service)}\\] accepted connection from 127\\.0\\.0\\.1:${peerPort}$`);

export const CONNECTION_CLOSED = /^Connection (closed|reset|[a-z]+\/[a-z]+): (\d+) byte\(s\) sent to TLS, (\d+) byte\(s\) sent to socket$/;

/** Waits for the close summary line of the connection logged with `id`. */
export const waitForConnectionClosed = (path: string, id: string, timeoutMs?: number): Promise<LogLine> =>
  waitFor(() => readLogLines(path).find((line) => line.id === id && CONNECTION_CLOSED.test(line.text)), {
    what: `the "Connection closed" line of connection [${id}] in ${path}`,
    timeoutMs,
  });

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
