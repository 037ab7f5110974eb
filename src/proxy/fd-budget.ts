// How many connections the open-file limit allows (stunnel's "Clients allowed=N"). Past it, accept()
// fails with EMFILE, which libuv handles silently by accepting and closing the connection: the
// operator would see nothing. So the engine refuses, and logs, before the descriptors run out.
import { readdirSync, readFileSync } from 'node:fs';
import { getSystemErrorCode } from '../errors.js';

/** Descriptors kept free for the log, the state file, the metrics listener and reloads. */
const RESERVED_DESCRIPTORS = 16;
/** A proxied connection holds two sockets (an exec'd program: two pipes instead of one). */
const DESCRIPTORS_PER_CONNECTION = 2;

/** The soft RLIMIT_NOFILE of this process, or undefined when /proc cannot tell. */
export const readOpenFileLimit = (): number | undefined => {
  let limits: string;
  try {
    limits = readFileSync('/proc/self/limits', 'utf8');
  } catch (error) {
    if (getSystemErrorCode(error) === undefined) throw error;
    return undefined;
  }
  const soft = /^Max open files\s+(\S+)/m.exec(limits)?.[1];
  return soft === undefined || soft === 'unlimited' ? undefined : Number(soft);
};

const countOpenDescriptors = (): number => {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch (error) {
    if (getSystemErrorCode(error) === undefined) throw error;
    return 0;
  }
};

/** The connection ceiling the open-file limit allows now, or undefined when unlimited/unknown. */
export const computeConnectionCeiling = (): number | undefined => {
  const limit = readOpenFileLimit();
  if (limit === undefined) return undefined;
  const free = limit - countOpenDescriptors() - RESERVED_DESCRIPTORS;
  return Math.max(1, Math.floor(free / DESCRIPTORS_PER_CONNECTION));
};
