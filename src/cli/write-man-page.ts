// `npm run man`: writes man/stunnelctl.1 from the CLI's declarations. Commit the result; the test
// test/unit/cli/man-page.test.ts fails while the committed page differs from what this writes.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { findManPagePath, readPackageVersion } from '../control/package-files.js';
import { renderManPage } from './man-page.js';
import { EXIT_CODES_HELP, createDocumentationProgram } from './program.js';

export const renderProgramManPage = (): string =>
  renderManPage({ program: createDocumentationProgram(), version: readPackageVersion(), footer: EXIT_CODES_HELP });

export const writeManPage = (path: string): void => {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, renderProgramManPage());
};

// Run as a script (node dist/src/cli/write-man-page.js), not when imported by the test.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const path = findManPagePath();
  writeManPage(path);
  process.stdout.write(`wrote ${path}\n`);
}
