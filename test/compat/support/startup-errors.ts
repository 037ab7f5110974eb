// Start-up failures as both programs print them on stderr (`[!] text`, STUNNEL-REFERENCE §7): the
// configuration diagnostics `FILE:LINE: "raw line": reason` and the section checks `Service [x]: reason`.
// No side effects on import.

export interface StartupError {
  /** The text after `[!] `. */
  text: string;
  file: string | null;
  line: number | null;
  /** The quoted raw line of a FILE:LINE diagnostic. */
  quoted: string | null;
  /** Section named by a `Service [x]: reason` check (also when stunnelctl prefixes it with FILE:LINE). */
  section: string | null;
  reason: string;
}

const LINE_DIAGNOSTIC = /^(\/[^:]*):(\d+): "(.*?)": (.*)$/;
const SECTION_CHECK = /^Service \[([^\]]*)\]: (.*)$/;
const NOT_A_DIAGNOSTIC = /^(Configuration failed|error queue: )/;

const parseOne = (text: string): StartupError => {
  const diagnostic = LINE_DIAGNOSTIC.exec(text);
  const rest = diagnostic === null ? text : (diagnostic[4] ?? '');
  const section = SECTION_CHECK.exec(rest);
  return {
    text,
    file: diagnostic?.[1] ?? null,
    line: diagnostic === null ? null : Number(diagnostic[2]),
    quoted: diagnostic?.[3] ?? null,
    section: section?.[1] ?? null,
    reason: section === null ? rest : (section[2] ?? ''),
  };
};

/** Every `[!]` line of stderr except `Configuration failed` and OpenSSL's `error queue:` lines. */
export const parseStartupErrors = (stderr: string): StartupError[] =>
  stderr
    .split('\n')
    .filter((line) => line.startsWith('[!] '))
    .map((line) => line.slice('[!] '.length))
    .filter((text) => !NOT_A_DIAGNOSTIC.test(text))
    .map(parseOne);

/** The first error that names a place (a line or a section): what stunnel stopped at. */
export const firstPlacedError = (errors: readonly StartupError[]): StartupError | undefined =>
  errors.find((error) => error.line !== null || error.section !== null);
