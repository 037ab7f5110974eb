// `stunnelctl status`: is the worker running, and how is it doing. Exit codes are LSB's status
// codes: 0 running, 1 dead but pid file exists, 3 not running, 4 unknown.
import type { Command } from 'commander';
import { STATUS_EXIT } from '../../errors.js';
import { collectStatus, type StatusReport, type StatusState } from '../../control/status-report.js';
import type { CliContext } from '../context.js';
import { formatDuration } from '../format.js';
import { addHomeOption, addJsonOption, resolveHome, type HomeOptions } from '../options.js';
import { formatServiceRoute } from './start.js';

const STATUS_EXIT_CODES: Readonly<Record<StatusState, number>> = {
  running: STATUS_EXIT.RUNNING,
  dead: STATUS_EXIT.DEAD_PID_FILE_EXISTS,
  stopped: STATUS_EXIT.NOT_RUNNING,
  unknown: STATUS_EXIT.UNKNOWN,
};

export const registerStatusCommand = (program: Command, context: CliContext): void => {
  addJsonOption(addHomeOption(program.command('status')))
    .summary('show whether the worker runs, its services and connections')
    .description(
      'Show whether the worker is running: pid, uptime, job class, services and listeners, connection ' +
        'counts, configuration generation and the last reload. Exit codes (LSB): 0 running, 1 dead but ' +
        'the pid file exists, 3 not running, 4 unknown (e.g. no home).',
    )
    .action((options: HomeOptions & { json?: boolean }) => {
      const report = collectStatus(resolveHome(options, context.io));
      if (options.json === true) context.report.line(JSON.stringify(report, null, 2));
      else formatStatus(report).forEach((line) => context.report.line(line));
      context.setExitCode(STATUS_EXIT_CODES[report.state]);
    });
};

export const formatStatus = (report: StatusReport): string[] => {
  if (report.state === 'stopped') return [`not running (home ${report.files.home})`];
  if (report.state === 'dead') return [`dead: ${report.detail ?? 'the worker is gone'}`, 'stunnelctl start clears the stale pid file and starts it again'];
  if (report.state === 'unknown') return [`unknown: ${report.detail ?? 'the state cannot be determined'}`];
  const uptime = report.uptimeSeconds === null ? '' : `, up ${formatDuration(report.uptimeSeconds * 1000)}`;
  const lines = [`running (pid ${report.pid ?? '?'}${uptime}, job class ${report.jobClass ?? 'none'})`];
  if (report.detail !== null) lines.push(`  note: ${report.detail}`);
  const reload = report.lastReload;
  const reloadText = reload === null ? 'never reloaded' : `last reload ${reload.ok ? 'ok' : 'REJECTED'} at ${reload.at}${reload.message === '' ? '' : `: ${reload.message}`}`;
  lines.push(`  configuration ${report.configFile} (generation ${report.configGeneration ?? '?'}; ${reloadText})`);
  lines.push(`  connections: ${report.connections.active} active, ${report.connections.total} since start`);
  for (const service of report.services) {
    lines.push(`  ${formatServiceRoute(service)}  (${service.active} active, ${service.total} total)`);
  }
  return lines;
};
