// Lines -> raw sections: looks every option up in the option table, parses its value, enforces
// where it may stand, and collects every problem at once (stunnel stops at the first).
import { OptionValueError, type Diagnostic } from './diagnostics.js';
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

interface ParseState {
  raw: RawConfiguration;
  diagnostics: Diagnostic[];
  current: RawSection | undefined;
  contextFor: (file: string) => ParseContext;
}

export const parseConfigurationLines = (
  lines: readonly ConfigLine[],
  contextFor: (file: string) => ParseContext,
): { raw: RawConfiguration; diagnostics: Diagnostic[] } => {
  const state: ParseState = { raw: { global: new Map(), sections: [] }, diagnostics: [], current: undefined, contextFor };
  for (const line of lines) {
    const before = state.diagnostics.length;
    parseLine(state, line);
    const site = line.includedFrom;
    // stunnel follows an error inside an included file with the include line itself.
    if (site !== undefined && state.diagnostics.length > before) {
      state.diagnostics.push({ file: site.file, line: site.line, raw: site.raw, message: 'Failed to include a file' });
    }
  }
  return { raw: state.raw, diagnostics: state.diagnostics };
};

const parseLine = (state: ParseState, line: ConfigLine): void => {
  const at = { file: line.file, line: line.line, raw: line.raw };
  if (line.kind === 'invalid') {
    state.diagnostics.push({ ...at, message: line.reason });
    return;
  }
  if (line.kind === 'section') {
    state.current = { name: line.name, file: line.file, line: line.line, options: new Map() };
    state.raw.sections.push(state.current);
    return;
  }
  const spec = findOption(line.name);
  if (spec === undefined || (state.current !== undefined && spec.scope === 'global')) {
    state.diagnostics.push({ ...at, message: 'Specified option name is not valid here' });
    return;
  }
  if (spec.unsupported !== undefined) {
    state.diagnostics.push({ ...at, message: `'${spec.name}' ${spec.unsupported}` });
    return;
  }
  const value = parseValue(spec, line.value, { ...state.contextFor(line.file), inSection: state.current !== undefined });
  if (value instanceof OptionValueError) {
    state.diagnostics.push({ ...at, message: value.message });
    return;
  }
  storeValue(state.current === undefined ? state.raw.global : state.current.options, spec, { value, ...at });
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
