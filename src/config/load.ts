// Reads a configuration file (and `include = DIR` directories) and returns the validated
// Configuration or every diagnostic at once. Pure apart from reading files.
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { getSystemErrorCode } from '../errors.js';
import { formatDiagnostic, type Diagnostic } from './diagnostics.js';
import { lexConfiguration, type ConfigLine } from './lexer.js';
import { parseConfigurationLines } from './parse.js';
import type { Configuration } from './types.js';
import { validateConfiguration } from './validate.js';

export { formatDiagnostic };
export type { Diagnostic };

export interface LoadResult {
  config: Configuration | undefined;
  diagnostics: Diagnostic[];
}

const MAX_INCLUDE_DEPTH = 8;

const describeSystemError = (error: unknown): string => {
  const code = getSystemErrorCode(error);
  return code === undefined ? String(error) : `${code === 'ENOENT' ? 'No such file or directory' : code === 'EACCES' ? 'Permission denied' : code} (${code})`;
};

/** Expands `include = DIR` lines in place: every regular file of DIR, in alphabetical order. */
const expandIncludes = (lines: ConfigLine[], diagnostics: Diagnostic[], depth: number): ConfigLine[] =>
  lines.flatMap((line) => {
    if (line.kind !== 'option' || line.name.toLowerCase() !== 'include') return [line];
    const at = { file: line.file, line: line.line, raw: line.raw };
    if (depth >= MAX_INCLUDE_DEPTH) {
      diagnostics.push({ ...at, message: 'Failed to include directory: includes nested too deeply' });
      return [];
    }
    const directory = resolve(dirname(line.file), line.value);
    let names: string[];
    try {
      names = readdirSync(directory).sort();
    } catch (error) {
      diagnostics.push({ ...at, message: `Failed to include directory: scandir: ${describeSystemError(error)}` });
      return [];
    }
    return names
      .map((name) => join(directory, name))
      .filter((path) => statSync(path, { throwIfNoEntry: false })?.isFile() === true)
      .flatMap((path) => expandIncludes(lexConfiguration(readFileSync(path, 'utf8'), path), diagnostics, depth + 1))
      .map((included) => ({ ...included, includedFrom: included.includedFrom ?? at }));
  });

export const loadConfigurationText = (text: string, file: string): LoadResult => {
  const diagnostics: Diagnostic[] = [];
  const lines = expandIncludes(lexConfiguration(text, file), diagnostics, 0);
  const parsed = parseConfigurationLines(lines, (source) => ({ configDirectory: dirname(source) }));
  diagnostics.push(...parsed.diagnostics);
  // Parse errors make section checks unreliable (a bad `accept` line would also read as "no accept").
  if (diagnostics.length > 0) return { config: undefined, diagnostics };
  return validateConfiguration(parsed.raw, file);
};

export const loadConfiguration = (path: string): LoadResult => {
  let file: string;
  let text: string;
  try {
    file = realpathSync(path);
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return {
      config: undefined,
      diagnostics: [{ file: resolve(path), line: null, raw: null, message: `Invalid configuration file name: ${describeSystemError(error)}` }],
    };
  }
  return loadConfigurationText(text, file);
};
