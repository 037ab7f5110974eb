// A home directory: where it is (--home, $STUNNELCTL_HOME, ~/.stunnelctl), and its manifest, which
// records the naming scheme and level chosen at install so every later command finds the same files.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { StunnelctlError, getSystemErrorCode } from '../errors.js';
import { writeFileAtomic } from '../worker/state-file.js';
import {
  HOME_MANIFEST_NAME,
  createHomeFiles,
  isNamingScheme,
  isValidLevel,
  type HomeFiles,
  type NamingScheme,
} from './home-naming.js';

export const HOME_ENV_VARIABLE = 'STUNNELCTL_HOME';
/** The default home, relative to the user's home directory (never to the current directory). */
export const DEFAULT_HOME_RELATIVE = '.stunnelctl';

export interface HomeManifest {
  scheme: NamingScheme;
  level: string;
  createdAt: string;
  stunnelctlVersion: string;
}

export interface Home {
  directory: string;
  manifest: HomeManifest;
  files: HomeFiles;
}

/** `--home`, else $STUNNELCTL_HOME, else ~/.stunnelctl; always absolute. */
export const resolveHomeDirectory = (option: string | undefined, env: NodeJS.ProcessEnv): string => {
  if (option !== undefined && option !== '') return resolve(option);
  const fromEnv = env[HOME_ENV_VARIABLE];
  if (fromEnv !== undefined && fromEnv !== '') return resolve(fromEnv);
  return join(homedir(), DEFAULT_HOME_RELATIVE);
};

export const parseHomeManifest = (text: string, path: string): HomeManifest => {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw createManifestError(path, 'it is not JSON', error);
  }
  const record = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const { scheme, level, createdAt, stunnelctlVersion } = record;
  if (typeof scheme !== 'string' || !isNamingScheme(scheme)) throw createManifestError(path, `"scheme" must be "bs2000" or "posix"`);
  if (typeof level !== 'string' || !isValidLevel(level)) throw createManifestError(path, `"level" must be a 3-digit string`);
  return {
    scheme,
    level,
    createdAt: typeof createdAt === 'string' ? createdAt : '',
    stunnelctlVersion: typeof stunnelctlVersion === 'string' ? stunnelctlVersion : '',
  };
};

const createManifestError = (path: string, reason: string, cause?: unknown): StunnelctlError =>
  new StunnelctlError('SCTL_ERR_HOME_MISSING', `the home manifest ${path} is damaged: ${reason}`, {
    hint: 'repair the file, or reinstall with stunnelctl install --force (existing files are backed up)',
    cause,
  });

const readManifestText = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = getSystemErrorCode(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new StunnelctlError('SCTL_ERR_IO', `cannot read ${path}: ${code ?? String(error)}`, { cause: error });
  }
};

/** The home in `directory`, or undefined when it has not been installed (no manifest). */
export const findHome = (directory: string): Home | undefined => {
  const path = join(directory, HOME_MANIFEST_NAME);
  const text = readManifestText(path);
  if (text === undefined) return undefined;
  const manifest = parseHomeManifest(text, path);
  return { directory, manifest, files: createHomeFiles(directory, manifest) };
};

/** The installed home in `directory`; SCTL_ERR_HOME_MISSING (exit 6) when it has no manifest. */
export const loadHome = (directory: string): Home => {
  const home = findHome(directory);
  if (home === undefined) {
    throw new StunnelctlError('SCTL_ERR_HOME_MISSING', `no stunnelctl home in ${directory}`, {
      hint: `run stunnelctl install --home ${directory}`,
    });
  }
  return home;
};

export const formatHomeManifest = (manifest: HomeManifest): string => `${JSON.stringify(manifest, null, 2)}\n`;

export const writeHomeManifest = (path: string, manifest: HomeManifest): void => {
  writeFileAtomic(path, formatHomeManifest(manifest));
};
