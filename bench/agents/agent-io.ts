// The agents' side of the protocol with the runner: parameters arrive as one JSON argument, results
// leave as JSON lines on stdout; a SIGTERM ends the agent at once.

export const readAgentParameters = <T>(): T => {
  const text = process.argv[2];
  if (text === undefined) throw new Error(`usage: node ${process.argv[1] ?? 'agent.js'} '<JSON parameters>'`);
  return JSON.parse(text) as T;
};

export const sendMessage = (message: object): void => {
  process.stdout.write(`${JSON.stringify(message)}\n`);
};

/** Milliseconds since the epoch with sub-millisecond resolution, comparable across processes. */
export const epochNowMs = (): number => performance.timeOrigin + performance.now();

export const exitOnTerm = (beforeExit: () => void = () => undefined): void => {
  process.once('SIGTERM', () => {
    beforeExit();
    process.exit(0);
  });
};
