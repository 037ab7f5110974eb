// Splits a stunnel configuration text into meaningful lines: section headers and `name = value`
// options, each with its file, 1-based line number and raw text. Comments and blanks are dropped.

/** The `include = DIR` line that brought a line in, for stunnel's `Failed to include a file`. */
export interface IncludeSite {
  file: string;
  line: number;
  raw: string;
}

interface LineBase {
  file: string;
  line: number;
  raw: string;
  includedFrom?: IncludeSite;
}

export type ConfigLine =
  | ({ kind: 'section'; name: string } & LineBase)
  | ({ kind: 'option'; name: string; value: string } & LineBase)
  | ({ kind: 'invalid'; reason: string } & LineBase);

const BYTE_ORDER_MARK = '\uFEFF';
/** stunnel's CONFLINELEN. */
export const MAX_LINE_LENGTH_BYTES = 16 * 1024;

export const lexConfiguration = (text: string, file: string): ConfigLine[] => {
  const source = text.startsWith(BYTE_ORDER_MARK) ? text.slice(1) : text;
  const lines: ConfigLine[] = [];
  source.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    // stunnel has no trailing comments: only a line whose first non-blank is ';' or '#' is one.
    if (trimmed === '' || trimmed.startsWith(';') || trimmed.startsWith('#')) return;
    if (Buffer.byteLength(raw) > MAX_LINE_LENGTH_BYTES) {
      lines.push({ kind: 'invalid', reason: 'Line too long', file, line, raw });
      return;
    }
    if (trimmed.startsWith('[') && trimmed.endsWith(']')) {
      lines.push({ kind: 'section', name: trimmed.slice(1, -1), file, line, raw });
      return;
    }
    const equals = trimmed.indexOf('=');
    if (equals === -1) {
      lines.push({ kind: 'invalid', reason: "No '=' found", file, line, raw });
      return;
    }
    lines.push({
      kind: 'option',
      name: trimmed.slice(0, equals).trimEnd(),
      value: trimmed.slice(equals + 1).trimStart(),
      file,
      line,
      raw,
    });
  });
  return lines;
};
