// `stunnelctl install` (STUNNEL.INSTALL): create a home; an existing one is reported, not touched.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseEndpoint } from '../../config/values.js';
import { findHome } from '../../control/home.js';
import { DEFAULT_ACCEPT, DEFAULT_CONNECT, installHome } from '../../control/home-install.js';
import { DEFAULT_LEVEL, DEFAULT_NAMING_SCHEME, NAMING_SCHEMES, isValidLevel, type NamingScheme } from '../../control/home-naming.js';
import type { CliContext } from '../context.js';
import { formatCount, formatTable } from '../format.js';
import { addHomeOption, resolveHome, type HomeOptions } from '../options.js';

interface InstallOptions extends HomeOptions {
  naming?: NamingScheme;
  level?: string;
  accept: string;
  connect: string;
  force?: boolean;
}

const parseLevel = (value: string): string => {
  if (!isValidLevel(value)) throw new InvalidArgumentError('expected 3 digits, e.g. 001');
  return value;
};

/** `[host:]port` or `[v6]:port`, checked with the configuration's own endpoint parser. */
const parseAddress = (defaultHost: string) => (value: string): string => {
  try {
    const endpoint = parseEndpoint(value, defaultHost);
    if (endpoint.kind === 'unix') throw new InvalidArgumentError('expected [host:]port, not a socket path');
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw error;
    throw new InvalidArgumentError(`expected [host:]port (${error instanceof Error ? error.message : String(error)})`);
  }
  return value;
};

export const registerInstallCommand = (program: Command, context: CliContext): void => {
  addHomeOption(program.command('install'))
    .summary('create a home: configuration, job file, job classes, test certificate (STUNNEL.INSTALL)')
    .description(
      'STUNNEL.INSTALL: create a home with the initial configuration (one [MT9750] service), the job file, ' +
        'the job-class table and a freshly generated TEST-ONLY self-signed certificate. An existing home is ' +
        'reported and left as it is; --force rewrites its files, keeping a backup of each.',
    )
    .addOption(
      new Option('--naming <scheme>', `file names: bs2000 (SYSDAT.TCP-IP-AP.nnn.STUNNEL.CONF, ...) or posix (stunnel.conf, ...) (default: ${DEFAULT_NAMING_SCHEME})`).choices(
        NAMING_SCHEMES,
      ),
    )
    .option('--level <nnn>', `the level nnn in BS2000 names, 3 digits (default: ${DEFAULT_LEVEL})`, parseLevel)
    .option('--accept <address>', 'where the [MT9750] service accepts TLS: [host:]port', parseAddress('0.0.0.0'), DEFAULT_ACCEPT)
    .option('--connect <address>', 'where it connects in plain TCP: [host:]port', parseAddress('127.0.0.1'), DEFAULT_CONNECT)
    .option('--force', 'rewrite the files of an existing home (each replaced file is backed up)')
    .action((options: InstallOptions) => runInstall(options, context));
};

const runInstall = async (options: InstallOptions, context: CliContext): Promise<void> => {
  const { report } = context;
  const directory = resolveHome(options, context.io);
  const existing = findHome(directory);
  const outcome = await installHome({
    directory,
    scheme: options.naming ?? existing?.manifest.scheme ?? DEFAULT_NAMING_SCHEME,
    level: options.level ?? existing?.manifest.level ?? DEFAULT_LEVEL,
    accept: options.accept,
    connect: options.connect,
    force: options.force === true,
  });
  const homeArgument = options.home === undefined ? '' : ` --home ${directory}`;
  if (outcome.kind === 'exists') {
    const { manifest } = outcome.home;
    report.line(`home ${directory} is already installed (naming ${manifest.scheme}, level ${manifest.level}, created ${manifest.createdAt}); nothing was changed`);
    report.line(`to rewrite its files (each replaced file is backed up): stunnelctl install${homeArgument} --force`);
    return;
  }
  const { files, manifest } = outcome.home;
  const { certificate } = outcome;
  report.line(`installed home ${directory} (naming ${manifest.scheme}, level ${manifest.level})`);
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
  if (outcome.backups.length > 0) {
    report.note(`replaced ${formatCount(outcome.backups.length, 'file')}; backups kept:`);
    outcome.backups.forEach(({ path, backup }) => report.line(`  ${path} -> ${backup}`));
  }
  report.line(`next: stunnelctl start${homeArgument}`);
};
