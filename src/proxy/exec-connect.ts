// exec+connect services (`exec` and `connect`, no `accept`): the program is started with the worker,
// its stdin/stdout relayed over TLS to the `connect` target (as TLS client with `client = yes`, else
// as TLS server on the outgoing connection), and restarted after `retry` when the connection ends. A reload stops the old loops from restarting; their live connection runs on.
import type { ChildProcess } from 'node:child_process';
import type { Logger } from '../log/logger.js';
import { ProxyConnection, spawnProgram } from './connection.js';
import type { ConnectionRegistry } from './registry.js';
import type { RuntimeService } from './service.js';

export const isExecConnectService = (service: RuntimeService): boolean =>
  service.config.exec !== null && service.config.connect.length > 0 && service.config.accept.length === 0;

export class ExecConnectLoop {
  private readonly service: RuntimeService;
  private readonly logger: Logger;
  private readonly registry: ConnectionRegistry;
  private readonly onActivity: () => void;
  private readonly logId: string;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(service: RuntimeService, logger: Logger, registry: ConnectionRegistry, onActivity: () => void, logId: string) {
    this.service = service;
    this.logger = logger;
    this.registry = registry;
    this.onActivity = onActivity;
    this.logId = logId;
  }

  start(): void {
    if (this.stopped) return;
    const { exec, execArgs } = this.service.config;
    const program = exec ?? '';
    const [argv0, ...args] = execArgs;
    const { child, stdio } = spawnProgram(program, argv0, args, {});
    child.on('error', (error) => this.logger.log(3, this.logId, `Service [${this.service.name}]: Failed to execute ${program}: ${error.message}`));
    const connection = new ProxyConnection(stdio, this.service, {
      logger: this.logger,
      registry: this.registry,
      onFinished: () => {
        this.onActivity();
        this.afterConnection(child);
      },
    }, `program ${program} (pid ${child.pid ?? 'none'})`);
    connection.start();
    this.onActivity();
  }

  /** No more restarts (reload or stop); the live connection, if any, is left to run or be aborted. */
  stop(): void {
    this.stopped = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
  }

  private afterConnection(child: ChildProcess): void {
    // The program belongs to its connection: when the connection ends, so does the program.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const delayMs = this.service.config.retryDelayMs;
    if (this.stopped || delayMs === null) return;
    this.logger.log(5, this.logId, `Service [${this.service.name}]: Retrying an exec+connect section in ${delayMs} ms`);
    this.retryTimer = setTimeout(() => this.start(), delayMs);
  }
}
