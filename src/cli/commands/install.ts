// `stunnelctl install` (STUNNEL.INSTALL): its options, help and exit codes; the work is in
// actions/install.ts, loaded only when the command runs.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { EXIT } from '../../errors.js';
import { parseEndpoint } from '../../config/values.js';
import { DEFAULT_ACCEPT, DEFAULT_CONNECT } from '../../control/defaults.js';
import { DEFAULT_LEVEL, DEFAULT_NAMING_SCHEME, NAMING_SCHEMES, isValidLevel } from '../../control/home-naming.js';
import { DEFAULT_JOB_CLASS } from '../../control/job-classes.js';
import { COMMON_EXIT_CODES, addCommandHelp } from '../command-help.js';
import type { CliContext } from '../context.js';
import { addHomeOption } from '../options.js';
import type { InstallOptions } from '../actions/install.js';

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
  const command = addHomeOption(program.command('install'))
    .summary('create a home: configuration, job file, job classes, test certificate (STUNNEL.INSTALL)')
    .description(
      'STUNNEL.INSTALL: create a home with the initial configuration (one [MT9750] service), the job file, ' +
        'the job-class table, a freshly generated TEST-ONLY self-signed certificate and a logrotate snippet; ' +
        'with --systemd also two systemd units (the detached job, and the worker in the foreground). An ' +
        'existing home is reported and left as it is; there, --systemd and --logrotate write only those files. ' +
        '--force replaces files (of the whole home, or only those asked for), keeping a backup of each.',
    )
    .addOption(
      new Option('--naming <scheme>', `file names: bs2000 (SYSDAT.TCP-IP-AP.nnn.STUNNEL.CONF, ...) or posix (stunnel.conf, ...) (default: ${DEFAULT_NAMING_SCHEME})`).choices(
        NAMING_SCHEMES,
      ),
    )
    .option('--level <nnn>', `the level nnn in BS2000 names, 3 digits (default: ${DEFAULT_LEVEL})`, parseLevel)
    .option('--accept <address>', 'where the [MT9750] service accepts TLS: [host:]port', parseAddress('0.0.0.0'), DEFAULT_ACCEPT)
    .option('--connect <address>', 'where it connects in plain TCP: [host:]port', parseAddress('127.0.0.1'), DEFAULT_CONNECT)
    .option('--systemd', 'write the systemd units into the home (Type=forking via start, and a foreground one)')
    .option('--job-class <class>', `the job class whose limits the systemd units apply (default: ${DEFAULT_JOB_CLASS}); with --systemd`)
    .option('--logrotate', 'write the logrotate snippet into an existing home (a new home always gets one)')
    .option('--force', 'replace existing files (each replaced file is backed up)')
    .action(async (options: InstallOptions) => {
      const { runInstall } = await import('../actions/install.js');
      await runInstall(options, context);
    });
  addCommandHelp(command, {
    examples: [
      { command: 'stunnelctl install --home /srv/stunnel', what: 'a home with BS2000 names: [MT9750] accepts TLS on 994, connects to 127.0.0.1:102' },
      { command: 'stunnelctl install --home /srv/stunnel --naming posix --accept 127.0.0.1:9994 --connect 127.0.0.1:10102', what: 'plain names (stunnel.conf, ...), loopback ports' },
      { command: 'stunnelctl install --home /srv/stunnel --systemd --job-class HIGH', what: 'add the systemd units of an existing home, with the limits of *HIGH' },
      { command: 'stunnelctl install --home /srv/stunnel --logrotate --force', what: 'rewrite the logrotate snippet (the old one is kept as a backup)' },
    ],
    exitCodes: [
      { code: EXIT.OK, meaning: 'installed; also when the home exists already (nothing is changed)' },
      { code: EXIT.FAILURE, meaning: 'a file is in the way (use --force), or a file or the key could not be written' },
      { ...COMMON_EXIT_CODES.usage, meaning: 'usage error, an unknown job class, or --job-class without --systemd' },
      { code: EXIT.NOT_CONFIGURED, meaning: 'the job-class table of the home has errors (--systemd)' },
    ],
  });
};
