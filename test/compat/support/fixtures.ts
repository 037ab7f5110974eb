// The compatibility fixtures: stunnel configuration templates in test/fixtures/compat/*.conf with
// `@@NAME@@` placeholders (ports, certificate and log/pid paths) filled in per run. The templates are
// read from the source tree (tsc does not copy them to dist/). No side effects on import.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../helpers/paths.js';

export const FIXTURE_DIR = join(PROJECT_ROOT, 'test', 'fixtures', 'compat');

export type FixtureVariables = Readonly<Record<string, string | number>>;

const PLACEHOLDER = /@@([A-Z0-9_]+)@@/g;

/** The template text of `test/fixtures/compat/NAME`. */
export const readFixture = (name: string): string => readFileSync(join(FIXTURE_DIR, name), 'utf8');

/** Fills every `@@NAME@@`; a placeholder without a value is a defect of the test, not a silent blank. */
export const renderTemplate = (template: string, variables: FixtureVariables): string =>
  template.replace(PLACEHOLDER, (whole, name: string) => {
    const value = variables[name];
    if (value === undefined) throw new Error(`no value for the placeholder ${whole}`);
    return String(value);
  });

/** Renders fixture `name` into `path` and returns `path`. */
export const writeFixture = (name: string, variables: FixtureVariables, path: string): string => {
  writeFileSync(path, renderTemplate(readFixture(name), variables));
  return path;
};

/**
 * Expectations a fixture declares about itself in comment lines (`; expect-KEY: VALUE`, a key may
 * repeat), e.g. `; expect-error-at: bogus = 1` or `; expect-error-section: svc`. Comments are the only
 * place both programs are sure to ignore.
 */
export const readExpectations = (name: string): Map<string, string[]> => {
  const expectations = new Map<string, string[]>();
  for (const line of readFixture(name).split('\n')) {
    const match = /^\s*[;#]\s*expect-([a-z-]+):\s*(.*?)\s*$/.exec(line);
    if (match === null) continue;
    const key = match[1] ?? '';
    expectations.set(key, [...(expectations.get(key) ?? []), match[2] ?? '']);
  }
  return expectations;
};

/** 1-based number of the first non-comment line of the template containing `text` (to point at an option). */
export const lineOf = (name: string, text: string): number => {
  const index = readFixture(name)
    .split('\n')
    .findIndex((line) => !/^\s*[;#]/.test(line) && line.includes(text));
  if (index === -1) throw new Error(`fixture ${name} has no non-comment line containing "${text}"`);
  return index + 1;
};
