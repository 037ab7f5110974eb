// The data plane in-process: a ProxyEngine with a Logger writing stunnel-format lines to a log file in
// the test's temp directory, started from configuration lines, plus the log queries the integration
// tests assert on (a connection's id from its peer port, its close summary). No side effects on import.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatDiagnostic, loadConfiguration } from '../../../src/config/load.js';
import type { Configuration } from '../../../src/config/types.js';
import { Logger } from '../../../src/log/logger.js';
import { ProxyEngine } from '../../../src/proxy/engine.js';
import { CONNECTION_CLOSED, readLogLines } from '../../helpers/stunnel-log.js';
import type { LogLine } from '../../helpers/stunnel-log.js';
import { waitFor } from '../../helpers/wait.js';

export interface RunningEngine {
  readonly engine: ProxyEngine;
  readonly logger: Logger;
  readonly logFile: string;
  /** Every line written so far (the logger is flushed first). */
  lines(): LogLine[];
  /** Waits for a line whose text matches `pattern` (optionally of connection `id`); returns it. */
  waitForLine(pattern: RegExp, options?: { id?: string; timeoutMs?: number }): Promise<LogLine>;
  /** The connection id the engine gave the client whose local port is `clientPort`. */
  connectionId(clientPort: number, timeoutMs?: number): Promise<string>;
  /** Every line of connection `id`. */
  linesOf(id: string): LogLine[];
  /** Waits for the close summary of connection `id`, then returns all of its summaries (exactly one expected). */
  closeSummaries(id: string, timeoutMs?: number): Promise<LogLine[]>;
  /** Loads `lines` as the new configuration file and reloads the engine with it. */
  reload(lines: readonly string[]): Promise<void>;
  /** Stops the engine (live connections aborted) and closes the log. Safe to call twice. */
  stop(): void;
}

/** Writes `lines` to `file` and loads them; throws with every diagnostic when the file is invalid. */
export const loadConfigLines = (file: string, lines: readonly string[]): Configuration => {
  writeFileSync(file, `${lines.join('\n')}\n`);
  const { config, diagnostics } = loadConfiguration(file);
  if (config === undefined) {
    throw new Error(`the test configuration ${file} is invalid:\n${diagnostics.map(formatDiagnostic).join('\n')}`);
  }
  return config;
};

export interface StartEngineOptions {
  dir: string;
  /** The configuration file's lines (global part, then sections). */
  config: readonly string[];
  /** File name inside `dir` (default `engine`): `NAME.conf`, `NAME.log`. */
  name?: string;
}

export const startEngine = async (options: StartEngineOptions): Promise<RunningEngine> => {
  const name = options.name ?? 'engine';
  const configFile = join(options.dir, `${name}.conf`);
  const logFile = join(options.dir, `${name}.log`);
  const config = loadConfigLines(configFile, options.config);
  const logger = new Logger();
  logger.globalLevel = config.global.debugLevel;
  logger.open({ file: logFile, mode: 'append', stderr: false });
  const engine = new ProxyEngine(logger);
  try {
    await engine.start(config);
  } catch (error) {
    logger.close();
    throw error;
  }
  let stopped = false;
  const lines = (): LogLine[] => {
    logger.flush();
    return readLogLines(logFile);
  };
  const linesOf = (id: string): LogLine[] => lines().filter((line) => line.id === id);
  const waitForLine = (pattern: RegExp, waitOptions: { id?: string; timeoutMs?: number } = {}): Promise<LogLine> =>
    waitFor(() => lines().find((line) => (waitOptions.id === undefined || line.id === waitOptions.id) && pattern.test(line.text)), {
      what: `a log line matching ${pattern}${waitOptions.id === undefined ? '' : ` of connection [${waitOptions.id}]`} in ${logFile}`,
      timeoutMs: waitOptions.timeoutMs,
    });
  return {
    engine,
    logger,
    logFile,
    lines,
    waitForLine,
    linesOf,
    connectionId: async (clientPort, timeoutMs) => {
      const accepted = await waitForLine(new RegExp(`^Service \\[[^\\]]+\\] accepted connection from 127\\.0\\.0\\.1:${clientPort}$`), { timeoutMs });
      return accepted.id;
    },
    closeSummaries: async (id, timeoutMs) => {
      await waitForLine(CONNECTION_CLOSED, { id, timeoutMs });
      return linesOf(id).filter((line) => CONNECTION_CLOSED.test(line.text));
    },
    reload: async (lines) => {
      await engine.reload(loadConfigLines(configFile, lines));
    },
    stop: () => {
      if (stopped) return;
      stopped = true;
      engine.stop();
      logger.close();
    },
  };
};

/** `Connection closed: N byte(s) sent to TLS, M byte(s) sent to socket` as {status, toTls, toSocket}. */
export const parseCloseSummary = (line: LogLine): { status: string; toTls: number; toSocket: number } => {
  const match = CONNECTION_CLOSED.exec(line.text);
  if (match === null) throw new Error(`not a close summary: ${line.raw}`);
  return { status: match[1] ?? '', toTls: Number(match[2]), toSocket: Number(match[3]) };
};

/** The global part every in-process test configuration starts with: info level, so timeouts are logged. */
export const GLOBAL_LINES: readonly string[] = ['debug = info', 'foreground = quiet'];
