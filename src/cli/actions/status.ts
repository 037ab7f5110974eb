// What `stunnelctl status` does, loaded only when it runs: the report (text or JSON), a warning per
// certificate that expires within 30 days, and the LSB exit code. It must start fast (< 250 ms):
// it loads no key generation, no process launching, no lock.
import { formatDistance } from 'date-fns/formatDistance';
import { STATUS_EXIT } from '../../errors.js';
import { CERTIFICATE_WARNING_DAYS, needsCertificateWarning, type CertificateExpiry } from '../../control/certificate-expiry.js';
import { collectStatus, type ServiceStatus, type StatusReport, type StatusState } from '../../control/status-report.js';
import type { CliContext } from '../context.js';
import { formatDuration, formatServiceRoute } from '../format.js';
import { resolveHome, type HomeOptions } from '../options.js';

const STATUS_EXIT_CODES: Readonly<Record<StatusState, number>> = {
  running: STATUS_EXIT.RUNNING,
  dead: STATUS_EXIT.DEAD_PID_FILE_EXISTS,
  stopped: STATUS_EXIT.NOT_RUNNING,
  unknown: STATUS_EXIT.UNKNOWN,
};

export interface StatusOptions extends HomeOptions {
  json?: boolean;
}

export const runStatus = (options: StatusOptions, context: CliContext): void => {
  const now = new Date();
  const report = collectStatus(resolveHome(options, context.io), now);
  if (options.json === true) context.report.line(JSON.stringify(report, null, 2));
  else formatStatus(report, now).forEach((line) => context.report.line(line));
  formatCertificateWarnings(report.services, now).forEach((line) => context.report.warn(line));
  context.setExitCode(STATUS_EXIT_CODES[report.state]);
};

/** `expires in 9 days` / `expired 3 days ago` (date-fns), or why it is not known. */
export const formatCertificateExpiry = (expiry: CertificateExpiry, now: Date): string => {
  if (expiry.notAfter === null) return `${expiry.file}: ${expiry.problem ?? 'unreadable'}`;
  const notAfter = new Date(expiry.notAfter);
  const distance = formatDistance(notAfter, now, { addSuffix: true });
  return `${expiry.file} ${notAfter.getTime() > now.getTime() ? 'expires' : 'EXPIRED'} ${distance} (${expiry.notAfter})`;
};

/** One `warning:` line per service whose certificate is expired, unreadable or under 30 days. */
export const formatCertificateWarnings = (services: readonly ServiceStatus[], now: Date): string[] =>
  services.flatMap((service) => {
    const expiry = service.certificate;
    if (expiry === null || !needsCertificateWarning(expiry)) return [];
    const next = 'replace it (stunnelctl make-self-signed-cert, or a certificate from your CA), then stunnelctl reload-config';
    if (expiry.notAfter === null) return [`cannot check the certificate of [${service.name}]: ${formatCertificateExpiry(expiry, now)}`];
    const when = (expiry.daysLeft ?? 0) < 0 ? 'has expired' : `has less than ${CERTIFICATE_WARNING_DAYS} days left`;
    return [`the certificate of [${service.name}] ${when}: ${formatCertificateExpiry(expiry, now)}; ${next}`];
  });

export const formatStatus = (report: StatusReport, now: Date): string[] => {
  if (report.state === 'stopped') return [`not running (home ${report.files.home})`];
  if (report.state === 'dead') return [`dead: ${report.detail ?? 'the worker is gone'}`, 'stunnelctl start clears the stale pid file and starts it again'];
  if (report.state === 'unknown') return [`unknown: ${report.detail ?? 'the state cannot be determined'}`];
  const uptime = report.uptimeSeconds === null ? '' : `, up ${formatDuration(report.uptimeSeconds * 1000)}`;
  const lines = [`running (pid ${report.pid ?? '?'}${uptime}, job class ${report.jobClass ?? 'none'})`];
  if (report.detail !== null) lines.push(`  note: ${report.detail}`);
  const reload = report.lastReload;
  const reloadText = reload === null ? 'never reloaded' : `last reload ${reload.ok ? 'ok' : 'REJECTED'} at ${reload.at}${reload.message === '' ? '' : `: ${reload.message}`}`;
  lines.push(`  configuration ${report.configFile} (generation ${report.configGeneration ?? '?'}; ${reloadText})`);
  const engines = report.engineProcesses ?? [];
  lines.push(engines.length === 0
    ? '  engine processes: none (the worker serves every connection itself)'
    : `  engine processes: ${engines.length} (pids ${engines.join(', ')})`);
  lines.push(`  connections: ${report.connections.active} active, ${report.connections.total} since start`);
  for (const service of report.services) {
    lines.push(`  ${formatServiceRoute(service)}  (${service.active} active, ${service.total} total)`);
    if (service.certificate !== null) lines.push(`    certificate ${formatCertificateExpiry(service.certificate, now)}`);
  }
  return lines;
};
