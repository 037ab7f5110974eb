// The files `install` writes come from templates/ in the package: read one, fill its {{PLACEHOLDERS}},
// and quote values for the language of the file they go into (POSIX shell, systemd unit).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findTemplatesDirectory } from './package-files.js';

export const TEMPLATE_FILES = {
  config: 'stunnel.conf',
  jobFile: 'stunnel.job',
  jobClasses: 'job-classes.conf',
  systemdUnit: 'stunnel.service',
  systemdForegroundUnit: 'stunnel-foreground.service',
  logrotate: 'stunnel.logrotate',
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

/** A systemd setting's value taken literally: `%` would start a specifier (systemd.unit(5)). */
export const escapeSystemdValue = (text: string): string => text.replace(/%/g, '%%');

/**
 * One word of a systemd command line (ExecStart=...): `%` and `$` escaped (specifiers, variables),
 * double-quoted with C escapes when it holds blanks or quotes (systemd.service(5) "Command lines").
 */
export const quoteSystemdWord = (text: string): string => {
  const escaped = escapeSystemdValue(text).replace(/\$/g, '$$$$');
  if (text !== '' && !/[\s"'\\;]/.test(text)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
};
