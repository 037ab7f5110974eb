// The stunnel command line of `stunnelctl run`: `[FILE] | -fd N | -help | -version | -sockets |
// -options`. Informational switches print to stderr and exit 0, as stunnel does.
import { readFileSync } from 'node:fs';
import { OPTIONS } from '../config/options.js';
import { runWorker } from './lifecycle.js';
import { ENGINE_BANNER, STUNNELCTL_VERSION, TLS_BANNER } from './version.js';

/** Where stunnel looks when no file is given (Debian's CONFDIR). */
export const DEFAULT_CONFIG_FILE = '/etc/stunnel/stunnel.conf';

const SYNTAX = [
  'Syntax:',
  'stunnelctl run [<filename>] ] -fd <n> | -help | -version | -sockets | -options',
  '    <filename>  - use specified config file',
  '    -fd <n>     - read the config file from a file descriptor',
  '    -help       - get config file help',
  '    -version    - display version and defaults',
  '    -sockets    - display default socket options',
  '    -options    - display supported TLS options',
].join('\n');

const TLS_OPTIONS = ['CIPHER_SERVER_PREFERENCE', 'NO_TICKET', 'NO_TLSv1', 'NO_TLSv1_1', 'NO_TLSv1_2', 'NO_TLSv1_3', 'NO_COMPRESSION', 'NO_RENEGOTIATION'];

const printToStderr = (text: string): number => {
  process.stderr.write(`${text}\n`);
  return 0;
};

const formatHelp = (): string => {
  const rows = OPTIONS.filter((spec) => spec.unsupported === undefined).map(
    (spec) => `  ${spec.name.padEnd(20)} ${spec.scope.padEnd(8)} ${spec.summary} (default: ${spec.defaultText})${spec.noEffect === undefined ? '' : ' [no effect]'}`,
  );
  return [SYNTAX, '', 'Options (name, scope, meaning):', ...rows].join('\n');
};

export const runWorkerCommandLine = async (args: readonly string[]): Promise<number> => {
  const first = args[0];
  switch (first?.toLowerCase()) {
    case '-help':
      return printToStderr(formatHelp());
    case '-version':
      return printToStderr(`${ENGINE_BANNER}\n${TLS_BANNER}\nstunnelctl ${STUNNELCTL_VERSION}\n${OPTIONS.filter((spec) => spec.scope === 'service' && spec.unsupported === undefined).map((spec) => `${spec.name} = ${spec.defaultText}`).join('\n')}`);
    case '-sockets':
      return printToStderr(['Socket option defaults:', '  l:TCP_NODELAY = yes', '  r:TCP_NODELAY = yes', '  a:SO_REUSEADDR = yes', 'Supported: SO_KEEPALIVE, TCP_KEEPIDLE, TCP_NODELAY, SO_REUSEADDR, IPV6_V6ONLY'].join('\n'));
    case '-options':
      return printToStderr(['Supported TLS options:', ...TLS_OPTIONS.map((name) => `options = ${name}`)].join('\n'));
    case '-fd': {
      const fd = Number(args[1]);
      if (args[1] === undefined || !Number.isInteger(fd) || fd < 0) {
        process.stderr.write('[!] Invalid file descriptor number\n' + SYNTAX + '\n');
        return 1;
      }
      const text = readFileSync(fd, 'utf8');
      return runWorker({ kind: 'text', text, name: `descriptor ${fd}` });
    }
    case undefined:
      return runWorker({ kind: 'file', path: DEFAULT_CONFIG_FILE });
    default:
      if (args.length > 1) {
        process.stderr.write(`[!] Unexpected argument "${args[1] ?? ''}"\n${SYNTAX}\n`);
        return 1;
      }
      return runWorker({ kind: 'file', path: first ?? DEFAULT_CONFIG_FILE });
  }
};
