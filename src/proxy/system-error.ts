// stunnel's errno wording: `<context>: <strerror> (<errno>)`, e.g. `Connection refused (111)`.
import { constants } from 'node:os';
import { getSystemErrorCode } from '../errors.js';

const STRERROR: Record<string, string> = {
  EACCES: 'Permission denied',
  EADDRINUSE: 'Address already in use',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ECONNREFUSED: 'Connection refused',
  ECONNRESET: 'Connection reset by peer',
  EHOSTUNREACH: 'No route to host',
  EMFILE: 'Too many open files',
  ENFILE: 'Too many open files in system',
  ENETUNREACH: 'Network is unreachable',
  ENOENT: 'No such file or directory',
  EPERM: 'Operation not permitted',
  EPIPE: 'Broken pipe',
  ETIMEDOUT: 'Connection timed out',
  ENOTFOUND: 'Name or service not known',
  EAI_AGAIN: 'Temporary failure in name resolution',
};

export const formatSystemError = (error: unknown): string => {
  const code = getSystemErrorCode(error);
  if (code === undefined) return error instanceof Error ? error.message : String(error);
  const errno = (constants.errno as Record<string, number | undefined>)[code];
  const text = STRERROR[code] ?? code;
  return errno === undefined ? text : `${text} (${errno})`;
};
