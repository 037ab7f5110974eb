// Where the product under test lives: the project root and the built CLI, computed from this file's
// place in dist/ (dist/test/helpers -> ../../..), so the tests never depend on the current directory.
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The built CLI, run as `node CLI_PATH ...` exactly as an operator would run `stunnelctl ...`. */
export const CLI_PATH = join(PROJECT_ROOT, 'dist', 'src', 'cli', 'main.js');

export const PROCEDURES_DIR = join(PROJECT_ROOT, 'procedures');
