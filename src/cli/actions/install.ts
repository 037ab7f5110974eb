// What `stunnelctl install` does (STUNNEL.INSTALL), loaded only when it runs: a new home, or on an
// existing one the system files asked for (--systemd, --logrotate); then how to hook them in.
import { StunnelctlError } from '../../errors.js';
import { findHome } from '../../control/home.js';
import { installHome, type InstallOutcome, type SystemFilesWritten } from '../../control/home-install.js';
import { DEFAULT_LEVEL, DEFAULT_NAMING_SCHEME, type NamingScheme } from '../../control/home-naming.js';
import { getLogrotateConfigName, getUnitName } from '../../control/system-files.js';
import type { CliContext } from '../context.js';
import { formatCount, formatTable } from '../format.js';
import type { Reporter } from '../io.js';
import { resolveHome, type HomeOptions } from '../options.js';

export interface InstallOptions extends HomeOptions {
  naming?: NamingScheme;
  level?: string;
  accept: string;
  connect: string;
  force?: boolean;
  systemd?: boolean;
  jobClass?: string;
  logrotate?: boolean;
}

export const runInstall = async (options: InstallOptions, context: CliContext): Promise<void> => {
  const { report } = context;
  if (options.jobClass !== undefined && options.systemd !== true) {
    throw new StunnelctlError('SCTL_ERR_USAGE', '--job-class is the job class of the systemd units: add --systemd', {
      hint: 'stunnelctl install --systemd --job-class CLASS; a started worker takes its class from stunnelctl start --job-class',
    });
  }
  const directory = resolveHome(options, context.io);
  const existing = findHome(directory);
  const outcome = await installHome({
    directory,
    scheme: options.naming ?? existing?.manifest.scheme ?? DEFAULT_NAMING_SCHEME,
    level: options.level ?? existing?.manifest.level ?? DEFAULT_LEVEL,
    accept: options.accept,
    connect: options.connect,
    force: options.force === true,
    ...(options.systemd === true ? { systemd: { jobClassName: options.jobClass } } : {}),
    logrotate: options.logrotate === true,
    problem: report.problem,
  });
  const homeArgument = options.home === undefined ? '' : ` --home ${directory}`;
  if (outcome.kind === 'exists') {
    const { manifest } = outcome.home;
    report.line(`home ${directory} is already installed (naming ${manifest.scheme}, level ${manifest.level}, created ${manifest.createdAt}); nothing was changed`);
    report.line(`to rewrite its files (each replaced file is backed up): stunnelctl install${homeArgument} --force`);
    report.line(`to add the systemd units or the logrotate snippet: stunnelctl install${homeArgument} --systemd (or --logrotate)`);
    return;
  }
  if (outcome.kind === 'installed') reportInstalledHome(outcome, report);
  else report.line(`home ${directory}: wrote its system files`);
  reportSystemFiles(directory, outcome, report);
  reportBackups(outcome.backups, report);
  if (outcome.kind === 'installed') report.line(`next: stunnelctl start${homeArgument}`);
};

const reportInstalledHome = (outcome: Extract<InstallOutcome, { kind: 'installed' }>, report: Reporter): void => {
  const { files, manifest } = outcome.home;
  const { certificate } = outcome;
  report.line(`installed home ${files.home} (naming ${manifest.scheme}, level ${manifest.level})`);
  formatTable([
    ['configuration', files.config],
    ['job file', files.jobFile],
    ['job classes', files.jobClasses],
    ['test certificate', files.testPem],
    ['pid file', files.pid],
    ['log', files.log],
    ['SYSLST', files.syslst],
  ]).forEach((row) => report.line(`  ${row}`));
  report.line('the certificate is for TESTS ONLY: anyone can tell it is not yours; make a production one with stunnelctl make-self-signed-cert');
  formatTable([
    ['subject', certificate.subject],
    ['certificate SHA-256', certificate.certFingerprintSha256],
    ['public key SHA-256', certificate.publicKeyFingerprintSha256],
    ['valid until', certificate.notAfter.toISOString()],
  ]).forEach((row) => report.line(`  ${row}`));
};

/** Where the systemd units and the logrotate snippet are, and the commands that hook them in. */
const reportSystemFiles = (home: string, written: SystemFilesWritten, report: Reporter): void => {
  if (written.systemd !== undefined) {
    const { unit, foregroundUnit, jobClass } = written.systemd;
    report.line(`systemd units (job class ${jobClass.name}: nofile ${jobClass.nofile}, nice ${jobClass.nice}); use one of them:`);
    formatTable([
      [unit, 'detached job, as stunnelctl start (Type=forking, PIDFile)'],
      [foregroundUnit, 'stunnelctl run in the foreground (Type=simple)'],
    ]).forEach((row) => report.line(`  ${row}`));
    report.line(`  as root: systemctl link ${unit} && systemctl enable --now ${getUnitName(unit)}`);
  }
  if (written.logrotate !== undefined) {
    report.line(`logrotate snippet ${written.logrotate} (rotates the log through stunnelctl switch-logfile)`);
    report.line(`  as root: install -m 0644 -o root -g root ${written.logrotate} /etc/logrotate.d/${getLogrotateConfigName(home)}`);
    report.line(`  or as this user, e.g. daily from cron: logrotate -s STATEFILE ${written.logrotate}`);
  }
};

const reportBackups = (backups: ReadonlyArray<{ path: string; backup: string }>, report: Reporter): void => {
  if (backups.length === 0) return;
  report.note(`replaced ${formatCount(backups.length, 'file')}; backups kept:`);
  backups.forEach(({ path, backup }) => report.line(`  ${path} -> ${backup}`));
};
