// The worker's signal table, installed before anything else is loaded: Node reserves SIGUSR1 for its
// inspector until a listener exists, and the default action of SIGHUP/USR2 is to terminate. Signals
// that arrive before the engine is ready are queued and handled, in order, once it is.

export type WorkerAction = 'reload' | 'reopen-log' | 'dump-connections' | 'stop';

export const SIGNAL_TABLE: Readonly<Record<string, WorkerAction>> = {
  SIGHUP: 'reload',
  SIGUSR1: 'reopen-log',
  SIGUSR2: 'dump-connections',
  SIGTERM: 'stop',
  SIGINT: 'stop',
  SIGQUIT: 'stop',
};

export type SignalDispatcher = (signal: NodeJS.Signals, action: WorkerAction) => void;

const queued: NodeJS.Signals[] = [];
let dispatcher: SignalDispatcher | undefined;

export const installSignalHandlers = (): void => {
  for (const [signal, action] of Object.entries(SIGNAL_TABLE)) {
    process.on(signal as NodeJS.Signals, () => {
      if (dispatcher === undefined) queued.push(signal as NodeJS.Signals);
      else dispatcher(signal as NodeJS.Signals, action);
    });
  }
  // A write to a peer that has gone must be an error on that socket, not the end of the worker.
  process.on('SIGPIPE', () => undefined);
};

/** From now on signals go to `handler`; queued ones are delivered first. */
export const setSignalDispatcher = (handler: SignalDispatcher): void => {
  dispatcher = handler;
  for (const signal of queued.splice(0)) {
    const action = SIGNAL_TABLE[signal];
    if (action !== undefined) handler(signal, action);
  }
};
