// The naming table of a home: the one place that spells the name of every file stunnelctl reads or
// writes (SPEC.md §2). Two schemes: `bs2000` (the TCP-IP-AP library names, with a level) and `posix`.
import { join } from 'node:path';
// The subpath, not 'date-fns': the package index loads every function (~100 ms), and `status` must start fast.
import { format } from 'date-fns/format';
import { stateFilePathFor } from '../worker/state-file.js';

export const NAMING_SCHEMES = ['bs2000', 'posix'] as const;
export type NamingScheme = (typeof NAMING_SCHEMES)[number];

export const DEFAULT_NAMING_SCHEME: NamingScheme = 'bs2000';
/** The BS2000 product level `nnn` used in the names when `install --level` is not given. */
export const DEFAULT_LEVEL = '001';

/** The manifest that marks a directory as an installed home. */
export const HOME_MANIFEST_NAME = 'stunnelctl-home.json';
/** The lock (a directory made by proper-lockfile) that serializes state-changing commands. */
export const HOME_LOCK_NAME = 'stunnelctl.lock';

// date-fns pattern of the suffix of an archived log (SPEC.md §2: `<yyyy-MM-dd.HHmmss>`).
const ARCHIVE_SUFFIX_PATTERN = 'yyyy-MM-dd.HHmmss';
/**
 * The same suffix, dot included, in logrotate's `dateformat` (strftime) notation: logrotate names
 * what it rotates exactly as switch-logfile does, so its rotate/maxage expire both kinds of archive.
 */
export const LOGROTATE_DATE_FORMAT = '.%Y-%m-%d.%H%M%S';
const BACKUP_SUFFIX_PATTERN = 'yyyyMMdd-HHmmss';

/** Every file of a home, as absolute paths. */
export interface HomeFiles {
  home: string;
  manifest: string;
  lock: string;
  jobFile: string;
  config: string;
  testPem: string;
  pid: string;
  state: string;
  log: string;
  syslst: string;
  serverPem: string;
  jobClasses: string;
  /** systemd unit running the worker as a detached job (Type=forking), written by `install --systemd`. */
  systemdUnit: string;
  /** systemd unit running the worker in the foreground (Type=simple). */
  systemdForegroundUnit: string;
  /** logrotate snippet rotating the log through switch-logfile. */
  logrotate: string;
}

export interface HomeNaming {
  scheme: NamingScheme;
  level: string;
}

export const isNamingScheme = (value: string): value is NamingScheme =>
  (NAMING_SCHEMES as readonly string[]).includes(value);

export const isValidLevel = (value: string): boolean => /^\d{3}$/.test(value);

type FileRole = Exclude<keyof HomeFiles, 'home' | 'manifest' | 'lock' | 'state'>;

const createBs2000Names = (level: string): Record<FileRole, string> => ({
  jobFile: `SYSENT.TCP-IP-AP.${level}.STUNNEL`,
  config: `SYSDAT.TCP-IP-AP.${level}.STUNNEL.CONF`,
  testPem: `SYSDAT.TCP-IP-AP.${level}.STUNNEL.PEM`,
  pid: `SYSDAT.TCP-IP-AP.${level}.STUNNEL.TSN`,
  log: `SYSLOG.TCP-IP-AP.${level}.STUNNEL`,
  syslst: `SYSLST.TCP-IP-AP.${level}.STUNNEL.JOB`,
  serverPem: `SYSDAT.TCP-IP-AP.${level}.SERVER.PEM`,
  jobClasses: `SYSDAT.TCP-IP-AP.${level}.STUNNEL.JOB-CLASSES`,
  // systemd takes the unit name from the file name, which must end in .service: the level keeps
  // the units of two homes apart once both are linked.
  systemdUnit: `stunnel-${level}.service`,
  systemdForegroundUnit: `stunnel-${level}-foreground.service`,
  logrotate: `SYSDAT.TCP-IP-AP.${level}.STUNNEL.LOGROTATE`,
});

const POSIX_NAMES: Record<FileRole, string> = {
  jobFile: 'stunnel.job',
  config: 'stunnel.conf',
  testPem: 'stunnel.pem',
  pid: 'stunnel.pid',
  log: 'stunnel.log',
  syslst: 'stunnel.job.log',
  serverPem: 'server.pem',
  jobClasses: 'job-classes.conf',
  systemdUnit: 'stunnel.service',
  systemdForegroundUnit: 'stunnel-foreground.service',
  logrotate: 'stunnel.logrotate',
};

/** The file names (no directory) of a home with this naming. */
export const createHomeFileNames = (naming: HomeNaming): Record<FileRole, string> =>
  naming.scheme === 'bs2000' ? createBs2000Names(naming.level) : { ...POSIX_NAMES };

/** The absolute paths of every file of the home in `homeDirectory` (itself absolute). */
export const createHomeFiles = (homeDirectory: string, naming: HomeNaming): HomeFiles => {
  const names = createHomeFileNames(naming);
  const pid = join(homeDirectory, names.pid);
  return {
    home: homeDirectory,
    manifest: join(homeDirectory, HOME_MANIFEST_NAME),
    lock: join(homeDirectory, HOME_LOCK_NAME),
    jobFile: join(homeDirectory, names.jobFile),
    config: join(homeDirectory, names.config),
    testPem: join(homeDirectory, names.testPem),
    pid,
    state: stateFilePathFor(pid),
    log: join(homeDirectory, names.log),
    syslst: join(homeDirectory, names.syslst),
    serverPem: join(homeDirectory, names.serverPem),
    jobClasses: join(homeDirectory, names.jobClasses),
    systemdUnit: join(homeDirectory, names.systemdUnit),
    systemdForegroundUnit: join(homeDirectory, names.systemdForegroundUnit),
    logrotate: join(homeDirectory, names.logrotate),
  };
};

/**
 * The archived name of a log switched at `at`: `<log>.<yyyy-MM-dd.HHmmss>`, and for the n-th
 * collision within the same second (`attempt` 2, 3, ...) `<log>.<yyyy-MM-dd.HHmmss>-<attempt>`.
 */
export const formatArchivedLogPath = (logPath: string, at: Date, attempt = 1): string => {
  const base = `${logPath}.${format(at, ARCHIVE_SUFFIX_PATTERN)}`;
  return attempt <= 1 ? base : `${base}-${attempt}`;
};

/**
 * The backup kept when `--force` replaces an operator's file: `<file>.bak-<yyyyMMdd-HHmmss>`, then
 * `.1`, `.2`, ... within the same second (the form src/certs uses for key material, so a home has one).
 */
export const formatBackupPath = (path: string, at: Date, attempt = 0): string => {
  const base = `${path}.bak-${format(at, BACKUP_SUFFIX_PATTERN)}`;
  return attempt === 0 ? base : `${base}.${attempt}`;
};
