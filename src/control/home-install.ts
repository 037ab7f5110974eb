// `install`: lays out a home (STUNNEL.INSTALL): the configuration and job file from templates/ with
// this home's absolute names, the job-class table, a fresh test-only certificate, then the manifest
// (last, so a home is only "installed" once every file is there).
import { mkdirSync } from 'node:fs';
import { StunnelctlError, getSystemErrorCode } from '../errors.js';
import { generateSelfSigned, type SelfSignedCertificate } from '../certs/generate.js';
import { writeKeyMaterialFile } from '../certs/pem-file.js';
import { findHome, writeHomeManifest, type Home, type HomeManifest } from './home.js';
import { createHomeFiles, type HomeFiles, type NamingScheme } from './home-naming.js';
import { backUpFile, createFileExistsError, isPresent, writeOperatorFile } from './operator-file.js';
import { readPackageVersion } from './package-files.js';
import { loadTemplate, quoteShellWord, renderTemplate } from './templates.js';

export const DEFAULT_ACCEPT = '994';
export const DEFAULT_CONNECT = '127.0.0.1:102';

const CONFIG_MODE = 0o644;
const JOB_FILE_MODE = 0o755;

export interface InstallRequest {
  directory: string;
  scheme: NamingScheme;
  level: string;
  accept: string;
  connect: string;
  force: boolean;
  now?: Date;
}

export type InstallOutcome =
  | { kind: 'exists'; home: Home }
  | {
      kind: 'installed';
      home: Home;
      /** Replaced files and where their backups are. */
      backups: Array<{ path: string; backup: string }>;
      certificate: SelfSignedCertificate;
    };

/** The files install writes, each with its content. */
const renderHomeFiles = (files: HomeFiles, request: InstallRequest): Array<{ path: string; content: string; mode: number }> => [
  {
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
  {
    path: files.jobFile,
    mode: JOB_FILE_MODE,
    content: renderTemplate(loadTemplate('jobFile'), { HOME: files.home, CONFIG_FILE_QUOTED: quoteShellWord(files.config) }),
  },
  { path: files.jobClasses, mode: CONFIG_MODE, content: renderTemplate(loadTemplate('jobClasses'), { HOME: files.home }) },
];

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

export const installHome = async (request: InstallRequest): Promise<InstallOutcome> => {
  const existing = findHome(request.directory);
  if (existing !== undefined && !request.force) return { kind: 'exists', home: existing };
  const now = request.now ?? new Date();
  const manifest: HomeManifest = {
    scheme: request.scheme,
    level: request.level,
    createdAt: now.toISOString(),
    stunnelctlVersion: readPackageVersion(),
  };
  const files = createHomeFiles(request.directory, manifest);
  const rendered = renderHomeFiles(files, request);
  // Refuse before writing anything: a half-written home helps nobody.
  const inTheWay = [...rendered.map((file) => file.path), files.testPem].filter(isPresent);
  if (inTheWay.length > 0 && !request.force) throw createFileExistsError(inTheWay);
  createHomeDirectory(request.directory);
  // Generated before any file is written, so a failure here changes nothing.
  const certificate = await generateSelfSigned({ testOnly: true, keyType: 'rsa', rsaBits: 2048, digest: 'sha256' });
  const backups: Array<{ path: string; backup: string }> = [];
  const keep = (path: string, backup: string | undefined): void => {
    if (backup !== undefined) backups.push({ path, backup });
  };
  for (const file of rendered) keep(file.path, writeOperatorFile(file.path, file.content, { mode: file.mode, force: request.force, now }));
  keep(files.testPem, (await writeKeyMaterialFile(files.testPem, certificate.pem, { force: request.force, now })).backupPath);
  if (isPresent(files.manifest)) keep(files.manifest, backUpFile(files.manifest, now));
  writeHomeManifest(files.manifest, manifest);
  return { kind: 'installed', home: { directory: request.directory, manifest, files }, backups, certificate };
};
