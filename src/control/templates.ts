// The files `install` writes come from templates/ in the package: read one, fill its {{PLACEHOLDERS}}.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findTemplatesDirectory } from './package-files.js';

export const TEMPLATE_FILES = {
  config: 'stunnel.conf',
  jobFile: 'stunnel.job',
  jobClasses: 'job-classes.conf',
} as const;
export type TemplateName = keyof typeof TEMPLATE_FILES;

export const loadTemplate = (name: TemplateName): string =>
  readFileSync(join(findTemplatesDirectory(), TEMPLATE_FILES[name]), 'utf8');

/** Replaces every `{{NAME}}`; a placeholder without a value is a bug in the caller, not left in the output. */
export const renderTemplate = (text: string, values: Readonly<Record<string, string>>): string =>
  text.replace(/\{\{([A-Z_]+)\}\}/g, (_match, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`template placeholder {{${name}}} has no value`);
    return value;
  });

/** One POSIX shell word: single-quoted, with embedded single quotes spelled '\''. */
export const quoteShellWord = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;
