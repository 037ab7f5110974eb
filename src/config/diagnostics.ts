// Configuration diagnostics in stunnel's format: `FILE:LINE: "raw line": reason`, or
// `Service [x]: reason` / `Global options: reason` for problems found when a section is complete.

export interface Diagnostic {
  file: string;
  /** 1-based; null for section-level checks that have no single line. */
  line: number | null;
  /** The raw line as written, indentation included; null for section-level checks. */
  raw: string | null;
  message: string;
  /** Prefix used when there is no line: `Service [x]` or `Global options`. */
  scope?: string;
}

/** Longer raw lines are quoted by their start only, so a runaway line cannot flood a terminal or log. */
export const MAX_QUOTED_LINE_LENGTH = 200;

const abbreviateRawLine = (raw: string): string =>
  raw.length <= MAX_QUOTED_LINE_LENGTH ? raw : `${raw.slice(0, MAX_QUOTED_LINE_LENGTH)}... (${raw.length} characters)`;

export const formatDiagnostic = (diagnostic: Diagnostic): string => {
  if (diagnostic.line === null) {
    const where = diagnostic.scope === undefined ? diagnostic.file : `${diagnostic.file}: ${diagnostic.scope}`;
    return `${where}: ${diagnostic.message}`;
  }
  const raw = diagnostic.raw === null ? '' : ` "${abbreviateRawLine(diagnostic.raw)}":`;
  return `${diagnostic.file}:${diagnostic.line}:${raw} ${diagnostic.message}`;
};

/** Thrown by option parsers; the caller attaches file and line. */
export class OptionValueError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'OptionValueError';
  }
}
