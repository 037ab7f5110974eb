// What `stunnelctl completion` does: print the script, or (for the script, on Tab) the job classes
// of the home. The latter never fails loudly: a shell completing a word has nowhere to show an error.
import type { Command } from 'commander';
import { StunnelctlError } from '../../errors.js';
import { findHome } from '../../control/home.js';
import { loadJobClasses } from '../../control/job-classes.js';
import { buildBashCompletion } from '../completion.js';
import type { CliContext } from '../context.js';
import { resolveHome, type HomeOptions } from '../options.js';

export interface CompletionOptions extends HomeOptions {
  jobClasses?: boolean;
}

export const runCompletion = (shell: string | undefined, options: CompletionOptions, program: Command, context: CliContext): void => {
  if (options.jobClasses === true) {
    listJobClasses(options, context);
    return;
  }
  if (shell === undefined) {
    throw new StunnelctlError('SCTL_ERR_USAGE', 'name the shell: stunnelctl completion bash', { hint: 'see stunnelctl completion --help' });
  }
  context.io.writeOut(buildBashCompletion(program));
};

/** Class names without the leading *, which bash would expand as a glob on the command line. */
const listJobClasses = (options: CompletionOptions, context: CliContext): void => {
  const home = findHome(resolveHome(options, context.io));
  if (home === undefined) return;
  const table = loadJobClasses(home.files.jobClasses, () => undefined);
  for (const jobClass of table.classes) context.report.line(jobClass.name.replace(/^\*/, ''));
};
