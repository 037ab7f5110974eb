// The files that hook a home into the operator's system tools, rendered from templates/ with the
// home's absolute paths: the systemd units (detached and foreground) and the logrotate snippet.
import { userInfo } from 'node:os';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LOGROTATE_DATE_FORMAT, type HomeFiles } from './home-naming.js';
import type { JobClass } from './job-classes.js';
import { findCliEntryPath, findManPagePath } from './package-files.js';
import { escapeSystemdValue, loadTemplate, quoteShellWord, quoteSystemdWord, renderTemplate } from './templates.js';

/** What the rendered files point at besides the home's own paths. */
export interface SystemFileContext {
  files: HomeFiles;
  /** The worker's pid file and log as the configuration names them (`pid =`, `output =`). */
  pidFile: string;
  logFile: string;
  /** The node binary and the CLI entry: absolute, as systemd and cron have no useful PATH. */
  node: string;
  cli: string;
  user: string;
  /** The package's man page: the units' Documentation= (a man: name only works if man finds it). */
  manPage: string;
}

export interface RenderedFile {
  path: string;
  content: string;
  mode: number;
}

const SYSTEM_FILE_MODE = 0o644;

export const createSystemFileContext = (files: HomeFiles, worker: { pidFile: string; logFile: string }): SystemFileContext => ({
  files,
  ...worker,
  node: process.execPath,
  cli: findCliEntryPath(),
  user: userInfo().username,
  manPage: findManPagePath(),
});

/** `stunnel-001.service` for `/srv/h/stunnel-001.service`: the name systemctl knows a linked unit by. */
export const getUnitName = (unitFile: string): string => basename(unitFile);

const createUnitValues = (context: SystemFileContext, jobClass: JobClass): Record<string, string> => {
  const { files } = context;
  const stunnelctl = `${quoteSystemdWord(context.node)} ${quoteSystemdWord(context.cli)}`;
  return {
    HOME: files.home,
    HOME_VALUE: escapeSystemdValue(files.home),
    HOME_WORD: quoteSystemdWord(files.home),
    UNIT_FILE: files.systemdUnit,
    UNIT_NAME: getUnitName(files.systemdUnit),
    FOREGROUND_UNIT_NAME: getUnitName(files.systemdForegroundUnit),
    DETACHED_UNIT_NAME: getUnitName(files.systemdUnit),
    USER: context.user,
    DOCUMENTATION: escapeSystemdValue(pathToFileURL(context.manPage).href),
    PID_FILE_VALUE: escapeSystemdValue(context.pidFile),
    STUNNELCTL: stunnelctl,
    NODE_WORD: quoteSystemdWord(context.node),
    CLI_WORD: quoteSystemdWord(context.cli),
    CONFIG_WORD: quoteSystemdWord(files.config),
    JOB_CLASS: escapeSystemdValue(jobClass.name),
    JOB_CLASS_WORD: quoteSystemdWord(jobClass.name),
    JOB_CLASS_ENVIRONMENT: quoteSystemdWord(`STUNNELCTL_JOB_CLASS=${jobClass.name}`),
    NOFILE: String(jobClass.nofile),
    NICE: String(jobClass.nice),
  };
};

/** Both systemd units of the home, for the job class `jobClass`. */
export const renderSystemdUnits = (context: SystemFileContext, jobClass: JobClass): RenderedFile[] => {
  const values = createUnitValues(context, jobClass);
  return [
    { path: context.files.systemdUnit, mode: SYSTEM_FILE_MODE, content: renderTemplate(loadTemplate('systemdUnit'), values) },
    {
      path: context.files.systemdForegroundUnit,
      mode: SYSTEM_FILE_MODE,
      content: renderTemplate(loadTemplate('systemdForegroundUnit'), {
        ...values,
        UNIT_FILE: context.files.systemdForegroundUnit,
        UNIT_NAME: getUnitName(context.files.systemdForegroundUnit),
      }),
    },
  ];
};

/** The name to copy the snippet to in /etc/logrotate.d: one per home, no dots (logrotate skips some). */
export const getLogrotateConfigName = (home: string): string => `stunnelctl-${basename(home).replace(/[^A-Za-z0-9_-]+/g, '-')}`;

/** The logrotate snippet: rotation by rename, then `stunnelctl switch-logfile` makes the worker reopen. */
export const renderLogrotateSnippet = (context: SystemFileContext): RenderedFile => {
  const { files } = context;
  const switchLogfile = `${quoteShellWord(context.node)} ${quoteShellWord(context.cli)} switch-logfile --home ${quoteShellWord(files.home)}`;
  return {
    path: files.logrotate,
    mode: SYSTEM_FILE_MODE,
    content: renderTemplate(loadTemplate('logrotate'), {
      HOME: files.home,
      SNIPPET_FILE: files.logrotate,
      LOGROTATE_D_NAME: getLogrotateConfigName(files.home),
      LOG_FILE: context.logFile,
      DATE_FORMAT: LOGROTATE_DATE_FORMAT,
      SWITCH_LOGFILE_COMMAND: switchLogfile,
    }),
  };
};
