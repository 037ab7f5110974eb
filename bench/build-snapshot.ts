// The build under test, frozen at the start of a run: `dist/` is copied into the run directory (with
// links to node_modules, templates, procedures and package.json beside it, so the copy resolves
// like the original). Other work that rebuilds the tree during a long run can then neither change
// the engine between rounds nor leave a half-written module for a process to load.
import { cpSync, existsSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

export interface BuildPaths {
  root: string;
  /** `dist/src/cli/main.js` (may not exist while the CLI is being written). */
  cliEntry: string;
  workerEntry: string;
  agentsDir: string;
}

const LINKED = ['node_modules', 'templates', 'procedures', 'package.json'];

export const buildPathsUnder = (root: string): BuildPaths => ({
  root,
  cliEntry: join(root, 'dist/src/cli/main.js'),
  workerEntry: join(root, 'dist/src/worker/main.js'),
  agentsDir: join(root, 'dist/bench/agents'),
});

export const snapshotBuild = (projectRoot: string, runDir: string): BuildPaths => {
  const root = join(runDir, 'build');
  cpSync(join(projectRoot, 'dist'), join(root, 'dist'), { recursive: true, filter: (source) => !source.endsWith('.map') });
  for (const name of LINKED) {
    if (existsSync(join(projectRoot, name))) symlinkSync(join(projectRoot, name), join(root, name));
  }
  return buildPathsUnder(root);
};
