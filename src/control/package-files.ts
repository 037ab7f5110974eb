// Where the installed package keeps its own files: the package root (found from this module's URL,
// so it works from src/ and dist/src/ alike), the templates, the CLI entry and the version.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'stunnelctl';

/** The directory holding stunnelctl's package.json (dist/src/control -> ../../..). */
export const findPackageRoot = (): string => {
  let directory = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(directory, 'package.json');
    if (existsSync(manifest) && readPackageName(manifest) === PACKAGE_NAME) return directory;
    const parent = dirname(directory);
    if (parent === directory) throw new Error(`no ${PACKAGE_NAME} package.json above ${fileURLToPath(import.meta.url)}`);
    directory = parent;
  }
};

const readPackageName = (path: string): unknown => (JSON.parse(readFileSync(path, 'utf8')) as { name?: unknown }).name;

export const readPackageVersion = (): string => {
  const manifest = JSON.parse(readFileSync(join(findPackageRoot(), 'package.json'), 'utf8')) as { version?: unknown };
  return typeof manifest.version === 'string' ? manifest.version : '0.0.0';
};

export const findTemplatesDirectory = (): string => join(findPackageRoot(), 'templates');

/** stunnelctl(1), relative to the package root: written by `npm run man`, installed by npm (package.json "man"). */
export const MAN_PAGE_PATH = 'man/stunnelctl.1';

export const findManPagePath = (): string => join(findPackageRoot(), MAN_PAGE_PATH);

/** The absolute path of the built CLI entry (`dist/src/cli/main.js`), which the job file runs. */
export const findCliEntryPath = (): string => fileURLToPath(new URL('../cli/main.js', import.meta.url));
