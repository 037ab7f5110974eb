// Formatting for the operator: durations (`3m05s`), counts, aligned text tables, service routes.
import type { ServiceState } from '../worker/state-file.js';

/** `45s`, `3m05s`, `2h03m`, `4d07h`: two units at most, like `ps` and `systemctl`. */
export const formatDuration = (milliseconds: number): string => {
  const seconds = Math.max(0, Math.floor(milliseconds / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h${String(minutes % 60).padStart(2, '0')}m`;
  return `${Math.floor(hours / 24)}d${String(hours % 24).padStart(2, '0')}h`;
};

/** Rows of cells as left-aligned columns, two spaces apart; the first row is the header. */
export const formatTable = (rows: ReadonlyArray<readonly string[]>): string[] => {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, index) => {
    widths[index] = Math.max(widths[index] ?? 0, cell.length);
  });
  return rows.map((row) => row.map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index] ?? 0))).join('  '));
};

export const formatCount = (count: number, noun: string): string => `${count} ${noun}${count === 1 ? '' : 's'}`;

/** `[name] TLS 0.0.0.0:994 -> 127.0.0.1:102` (server) or `[name] 127.0.0.1:8044 -> TLS host:8044` (client). */
export const formatServiceRoute = (service: ServiceState): string => {
  const accept = (service.listeners.length > 0 ? service.listeners : service.accept).join(', ');
  const connect = service.connect.join(', ');
  return service.mode === 'client' ? `[${service.name}] ${accept} -> TLS ${connect}` : `[${service.name}] TLS ${accept} -> ${connect}`;
};
