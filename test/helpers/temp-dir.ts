// Per-test temporary directories under the system temp dir, removed in `finally`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const makeTempDir = (label: string): string => mkdtempSync(join(tmpdir(), `stunnelctl-e2e-${label}-`));

export const removeTempDir = (dir: string): void => {
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
};
