// `install`: lays out a home (STUNNEL.INSTALL): the configuration and job file from templates/ with
// this home's absolute names, the job-class table, a fresh test-only certificate, the logrotate
// snippet, the systemd units when asked, then the manifest (last, so a home is only "installed" once
// every file is there). On an existing home it writes only the system files asked for.
import { mkdirSync } from 'node:fs';
import { StunnelctlError, getSystemErrorCode } from '../errors.js';
import { generateSelfSigned, type SelfSignedCertificate } from '../certs/generate.js';
import { writeKeyMaterialFile } from '../certs/pem-file.js';
import { locateWorkerFiles } from './configuration.js';
import { findHome, writeHomeManifest, type Home, type HomeManifest } from './home.js';
import { createHomeFiles, type HomeFiles, type NamingScheme } from './home-naming.js';
import { DEFAULT_JOB_CLASS, loadJobClasses, parseJobClasses, resolveJobClass, type JobClass, type JobClassTable } from './job-classes.js';
import { backUpFile, createFileExistsError, isPresent, writeOperatorFile } from './operator-file.js';
import { readPackageVersion } from './package-files.js';
import { createSystemFileContext, renderLogrotateSnippet, renderSystemdUnits, type RenderedFile } from './system-files.js';
import { loadTemplate, quoteShellWord, renderTemplate } from './templates.js';

const CONFIG_MODE = 0o644;
const JOB_FILE_MODE = 0o755;

export interface InstallRequest {
  directory: string;
  scheme: NamingScheme;
  level: string;
  accept: string;
  connect: string;
  force: boolean;
  /** Write the systemd units, for this job class (default *STD). */
  systemd?: { jobClassName: string | undefined };
  /** On an existing home: (re)write the logrotate snippet (a new home always gets one). */
  logrotate?: boolean;
  /** Where job-class table problems go, one `FILE:LINE: message` each. */
  problem?: (line: string) => void;
  now?: Date;
}

/** The system files written, to tell the operator how to hook them in. */
export interface SystemFilesWritten {
  /** The systemd units and the job class they apply, when asked for. */
  systemd?: { jobClass: JobClass; unit: string; foregroundUnit: string };
  logrotate?: string;
}

export type InstallOutcome =
  | { kind: 'exists'; home: Home }
  | ({
      kind: 'installed';
      home: Home;
      /** Replaced files and where their backups are. */
      backups: Array<{ path: string; backup: string }>;
      certificate: SelfSignedCertificate;
    } & SystemFilesWritten)
  | ({ kind: 'extended'; home: Home; backups: Array<{ path: string; backup: string }> } & SystemFilesWritten);

/** The operator-editable files of a new home, each with its content. */
const renderHomeFiles = (files: HomeFiles, request: InstallRequest): Record<'config' | 'jobFile' | 'jobClasses', RenderedFile> => ({
  config: {
    path: files.config,
    mode: CONFIG_MODE,
    content: renderTemplate(loadTemplate('config'), {
      HOME: files.home,
      LOG_FILE: files.log,
      PID_FILE: files.pid,
      ACCEPT: request.accept,
      CONNECT: request.connect,
      CERT_FILE: files.testPem,
    }),
  },
  jobFile: {
    path: files.jobFile,
    mode: JOB_FILE_MODE,
    content: renderTemplate(loadTemplate('jobFile'), { HOME: files.home, CONFIG_FILE_QUOTED: quoteShellWord(files.config) }),
  },
  jobClasses: { path: files.jobClasses, mode: CONFIG_MODE, content: renderTemplate(loadTemplate('jobClasses'), { HOME: files.home }) },
});

const createHomeDirectory = (directory: string): void => {
  try {
    mkdirSync(directory, { recursive: true });
  } catch (error) {
    throw new StunnelctlError('SCTL_ERR_IO', `cannot create the home directory ${directory}: ${getSystemErrorCode(error) ?? String(error)}`, {
      hint: 'choose another --home, or create the directory with the right owner first',
      cause: error,
    });
  }
};

/** The job class the units apply; an unknown one fails before anything is written. */
const resolveUnitJobClass = (table: JobClassTable, request: InstallRequest): JobClass | undefined =>
  request.systemd === undefined ? undefined : resolveJobClass(table, request.systemd.jobClassName ?? DEFAULT_JOB_CLASS);

const parseRenderedJobClasses = (file: RenderedFile): JobClassTable => {
  const { table, problems } = parseJobClasses(file.content, file.path);
  if (problems.length > 0) throw new Error(`templates/job-classes.conf does not parse: ${problems.join('; ')}`);
  return table;
};

/** Writes every file, collecting the backups of replaced ones. */
const writeFiles = (rendered: readonly RenderedFile[], request: InstallRequest, now: Date): Array<{ path: string; backup: string }> => {
  const backups: Array<{ path: string; backup: string }> = [];
  for (const file of rendered) {
    const backup = writeOperatorFile(file.path, file.content, { mode: file.mode, force: request.force, now });
    if (backup !== undefined) backups.push({ path: file.path, backup });
  }
  return backups;
};

const describeSystemFiles = (files: HomeFiles, jobClass: JobClass | undefined, logrotate: boolean): SystemFilesWritten => ({
  ...(jobClass === undefined ? {} : { systemd: { jobClass, unit: files.systemdUnit, foregroundUnit: files.systemdForegroundUnit } }),
  ...(logrotate ? { logrotate: files.logrotate } : {}),
});

export const installHome = async (request: InstallRequest): Promise<InstallOutcome> => {
  const existing = findHome(request.directory);
  if (existing === undefined) return installNewHome(request);
  // On an existing home, --systemd / --logrotate say which files to write (--force: replace them).
  if (request.systemd !== undefined || request.logrotate === true) return extendHome(existing, request);
  return request.force ? installNewHome(request) : { kind: 'exists', home: existing };
};

/**
 * An existing home gets only the system files asked for, pointing at the pid file and log its
 * configuration names (which the operator may have changed since install).
 */
const extendHome = (home: Home, request: InstallRequest): InstallOutcome => {
  const { files } = home;
  const now = request.now ?? new Date();
  const jobClass = resolveUnitJobClass(loadJobClasses(files.jobClasses, request.problem ?? (() => undefined)), request);
  const worker = locateWorkerFiles(files.config, files);
  const context = createSystemFileContext(files, { pidFile: worker.pidPath, logFile: worker.logPath ?? files.log });
  const rendered = [
    ...(jobClass === undefined ? [] : renderSystemdUnits(context, jobClass)),
    ...(request.logrotate === true ? [renderLogrotateSnippet(context)] : []),
  ];
  const inTheWay = rendered.map((file) => file.path).filter(isPresent);
  if (inTheWay.length > 0 && !request.force) throw createFileExistsError(inTheWay);
  const backups = writeFiles(rendered, request, now);
  return { kind: 'extended', home, backups, ...describeSystemFiles(files, jobClass, request.logrotate === true) };
};

const installNewHome = async (request: InstallRequest): Promise<InstallOutcome> => {
  const now = request.now ?? new Date();
  const manifest: HomeManifest = {
    scheme: request.scheme,
    level: request.level,
    createdAt: now.toISOString(),
    stunnelctlVersion: readPackageVersion(),
  };
  const files = createHomeFiles(request.directory, manifest);
  const homeFiles = renderHomeFiles(files, request);
  const jobClass = resolveUnitJobClass(parseRenderedJobClasses(homeFiles.jobClasses), request);
  const context = createSystemFileContext(files, { pidFile: files.pid, logFile: files.log });
  const rendered = [
    ...Object.values(homeFiles),
    renderLogrotateSnippet(context),
    ...(jobClass === undefined ? [] : renderSystemdUnits(context, jobClass)),
  ];
  // Refuse before writing anything: a half-written home helps nobody.
  const inTheWay = [...rendered.map((file) => file.path), files.testPem].filter(isPresent);
  if (inTheWay.length > 0 && !request.force) throw createFileExistsError(inTheWay);
  createHomeDirectory(request.directory);
  // Generated before any file is written, so a failure here changes nothing.
  const certificate = await generateSelfSigned({ testOnly: true, keyType: 'rsa', rsaBits: 2048, digest: 'sha256' });
  const backups = writeFiles(rendered, request, now);
  const pem = await writeKeyMaterialFile(files.testPem, certificate.pem, { force: request.force, now });
  if (pem.backupPath !== undefined) backups.push({ path: files.testPem, backup: pem.backupPath });
  if (isPresent(files.manifest)) backups.push({ path: files.manifest, backup: backUpFile(files.manifest, now) });
  writeHomeManifest(files.manifest, manifest);
  const home = { directory: request.directory, manifest, files };
  return { kind: 'installed', home, backups, certificate, ...describeSystemFiles(files, jobClass, true) };
};
