// Bash completion, written from the program's own declarations (subcommands, their options and
// choices), so it never lists an option that does not exist. Job classes are the home's: the
// script asks `stunnelctl completion --job-classes` for them when a --job-class value is wanted.
import type { Command, Option } from 'commander';

/** What the value of an option is, for completion: a fixed list, a directory, a file, job classes, or free text. */
type ValueKind = { kind: 'words'; words: readonly string[] } | { kind: 'directory' } | { kind: 'file' } | { kind: 'job-class' } | { kind: 'none' };

const VALUE_KINDS_BY_OPTION: Readonly<Record<string, ValueKind>> = {
  '--home': { kind: 'directory' },
  '--out': { kind: 'file' },
  '--job-class': { kind: 'job-class' },
};

export const COMPLETION_SHELLS = ['bash'] as const;
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

const getValueKind = (option: Option): ValueKind => {
  if (option.argChoices !== undefined) return { kind: 'words', words: option.argChoices };
  return VALUE_KINDS_BY_OPTION[option.long ?? ''] ?? { kind: 'none' };
};

const takesValue = (option: Option): boolean => option.required || option.optional;

const listOptionFlags = (command: Command): string[] => [
  ...command.options.filter((option) => !option.hidden).flatMap((option) => [option.long, option.short].filter((flag): flag is string => flag !== undefined)),
  '--help',
];

/** A bash single-quoted word. */
const quoteBash = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;

/** The `case "$prev"` arms completing the value of each option of `command` that takes one. */
const formatValueArms = (command: Command): string[] =>
  command.options.filter((option) => !option.hidden && takesValue(option)).flatMap((option) => {
    const flags = [option.long, option.short].filter((flag): flag is string => flag !== undefined).join('|');
    const kind = getValueKind(option);
    const action = {
      words: () => `_stunnelctl_reply_words ${quoteBash(kind.kind === 'words' ? kind.words.join(' ') : '')}`,
      directory: () => '_stunnelctl_reply_paths -d',
      file: () => '_stunnelctl_reply_paths -f',
      'job-class': () => '_stunnelctl_reply_words "$(_stunnelctl_job_classes)"',
      none: () => ':',
    }[kind.kind]();
    return [`        ${flags}) ${action}; return 0 ;;`];
  });

const formatCommandArm = (command: Command): string[] => {
  const name = command.name();
  // `run` takes stunnel's own command line: a configuration file.
  const operands = name === 'run' ? '_stunnelctl_reply_paths -f' : name === 'completion' ? `_stunnelctl_reply_words ${quoteBash(COMPLETION_SHELLS.join(' '))}` : ':';
  return [
    `    ${name})`,
    '      case "$prev" in',
    ...formatValueArms(command),
    '      esac',
    `      if [[ $cur == -* ]]; then _stunnelctl_reply_words ${quoteBash(listOptionFlags(command).join(' '))}; else ${operands}; fi`,
    '      ;;',
  ];
};

/** The script `stunnelctl completion bash` prints; `complete -F _stunnelctl stunnelctl` at its end. */
export const buildBashCompletion = (program: Command): string => {
  const commands = program.commands;
  const names = commands.map((command) => command.name());
  return [
    `# bash completion for ${program.name()} ${program.version() ?? ''}, written by \`${program.name()} completion bash\`.`,
    `# Load it in this shell: source <(${program.name()} completion bash)`,
    `# or for every shell: ${program.name()} completion bash > ~/.local/share/bash-completion/completions/${program.name()}`,
    '',
    '# The --home given on the line (~ expanded), else nothing: stunnelctl then uses $STUNNELCTL_HOME or its default.',
    '_stunnelctl_home() {',
    '  local i',
    '  for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do',
    '    if [[ ${COMP_WORDS[i]} == --home ]]; then printf \'%s\\n\' "${COMP_WORDS[i+1]/#\\~/$HOME}"; return; fi',
    '  done',
    '}',
    '',
    '# The job classes of that home (names without the *, which the shell would expand).',
    '_stunnelctl_job_classes() {',
    '  local home',
    '  home=$(_stunnelctl_home)',
    '  "${COMP_WORDS[0]}" completion --job-classes ${home:+--home "$home"} 2>/dev/null',
    '}',
    '',
    '# Sets COMPREPLY to the words of $1 (blank-separated, never globbed) that start with $cur.',
    '_stunnelctl_reply_words() {',
    '  local word',
    '  local -a words=()',
    '  COMPREPLY=()',
    "  read -r -d '' -a words <<<\"$1\"",
    '  for word in "${words[@]}"; do',
    '    if [[ $word == "$cur"* ]]; then COMPREPLY+=("$word"); fi',
    '  done',
    '}',
    '',
    '_stunnelctl_reply_paths() {',
    '  compopt -o filenames 2>/dev/null',
    '  mapfile -t COMPREPLY < <(compgen "$1" -- "$cur")',
    '}',
    '',
    '_stunnelctl() {',
    '  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} command= i',
    '  COMPREPLY=()',
    '  for ((i = 1; i < COMP_CWORD; i++)); do',
    '    if [[ ${COMP_WORDS[i]} != -* ]]; then command=${COMP_WORDS[i]}; break; fi',
    '  done',
    '  case "$command" in',
    "    '')",
    `      if [[ $cur == -* ]]; then _stunnelctl_reply_words '--help --version'; else _stunnelctl_reply_words ${quoteBash([...names, 'help'].join(' '))}; fi`,
    '      ;;',
    '    help)',
    `      _stunnelctl_reply_words ${quoteBash(names.join(' '))}`,
    '      ;;',
    ...commands.flatMap(formatCommandArm),
    '  esac',
    '  return 0',
    '}',
    '',
    `complete -F _stunnelctl ${program.name()}`,
    '',
  ].join('\n');
};
