// Lines -> raw sections: looks every option up in the option table, parses its value, enforces
// where it may stand, and collects every problem at once (stunnel stops at the first).
import { formatDiagnostic, OptionValueError, type Diagnostic } from './diagnostics.js';
import type { ConfigLine } from './lexer.js';
import { findOption, type OptionSpec, type ParseContext } from './options.js';

export interface RawValue {
  value: unknown;
  file: string;
  line: number;
  raw: string;
}

/** Values by canonical option name; repeatable options hold every line in order. */
export type RawOptions = Map<string, RawValue[]>;

export interface RawSection {
  name: string;
  file: string;
  line: number;
  options: RawOptions;
}

export interface RawConfiguration {
  global: RawOptions;
  sections: RawSection[];
}

export const parseConfigurationLines = (
  lines: readonly ConfigLine[],
  contextFor: (file: string) => ParseContext,
): { raw: RawConfiguration; diagnostics: Diagnostic[] } => {
  const raw: RawConfiguration = { global: new Map(), sections: [] };
  const diagnostics: Diagnostic[] = [];
  let current: RawSection | undefined;

  for (const line of lines) {
    const at = { file: line.file, line: line.line, raw: line.raw };
    if (line.kind === 'invalid') {
      diagnostics.push({ ...at, message: line.reason });
      continue;
    }
    if (line.kind === 'section') {
      current = { name: line.name, file: line.file, line: line.line, options: new Map() };
      raw.sections.push(current);
      continue;
    }
    const spec = findOption(line.name);
    if (spec === undefined || (current !== undefined && spec.scope === 'global')) {
      diagnostics.push({ ...at, message: 'Specified option name is not valid here' });
      continue;
    }
    if (spec.unsupported !== undefined) {
      diagnostics.push({ ...at, message: `'${spec.name}' ${spec.unsupported}` });
      continue;
    }
    const value = parseValue(spec, line.value, contextFor(line.file));
    if (value instanceof OptionValueError) {
      diagnostics.push({ ...at, message: value.message });
      continue;
    }
    storeValue(current === undefined ? raw.global : current.options, spec, { value, ...at });
  }
  return { raw, diagnostics };
};

const parseValue = (spec: OptionSpec, value: string, context: ParseContext): unknown => {
  try {
    return spec.parse(value, context);
  } catch (error) {
    if (error instanceof OptionValueError) return error;
    throw error;
  }
};

const storeValue = (options: RawOptions, spec: OptionSpec, value: RawValue): void => {
  const existing = options.get(spec.name);
  if (spec.repeatable === true && existing !== undefined) existing.push(value);
  else options.set(spec.name, [value]);
};

export const formatDiagnostics = (diagnostics: readonly Diagnostic[]): string[] => diagnostics.map(formatDiagnostic);
