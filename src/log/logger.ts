// The worker's logger: stunnel-format lines to the `output` file (and/or stderr), buffered and
// flushed on the next turn of the event loop. Reopening (SIGUSR1) flushes into the old file first,
// so a line lands in exactly one file. A failing log write never fails the worker: the lines go to
// stderr (the SYSLST file of a started worker) instead.
import { closeSync, fstatSync, openSync, writeSync } from 'node:fs';
import { getSystemErrorCode } from '../errors.js';
import { formatLogLine, formatStartupLine } from './format.js';

export interface LogTarget {
  file: string | null;
  mode: 'append' | 'overwrite';
  /** Copy every line to stderr (foreground = yes, or no output file). */
  stderr: boolean;
}

/** Flush at once past this many buffered bytes, so a burst cannot grow the buffer without bound. */
const MAX_BUFFERED_BYTES = 64 * 1024;

interface BufferedStartupLine {
  level: number;
  id: string;
  text: string;
  atMs: number;
  /** A line formatted by an engine process: written as it is. */
  formatted?: boolean;
}

export class Logger {
  private target: LogTarget | null = null;
  private fd: number | null = null;
  private pending: string[] = [];
  private pendingBytes = 0;
  private flushScheduled = false;
  private writeFailureReported = false;
  private startupLines: BufferedStartupLine[] = [];
  /** An engine process hands its formatted lines to the worker instead of writing them. */
  private sink: ((text: string) => void) | null = null;
  /** Level of lines without a service (global `debug`). */
  globalLevel = 5;

  /** Before `open`, lines are kept so that a failed start-up can print all of them to stderr. */
  log(level: number, id: string, text: string, filterLevel = this.globalLevel): void {
    const atMs = Date.now();
    if (this.target === null) {
      this.startupLines.push({ level, id, text, atMs });
      return;
    }
    if (level > filterLevel) return;
    this.enqueue(formatLogLine(atMs, level, id, text));
  }

  /** Opens the target and writes the start-up lines that pass the filter. */
  open(target: LogTarget): void {
    this.target = target;
    this.openFile();
    const lines = this.startupLines;
    this.startupLines = [];
    for (const line of lines) {
      if (line.formatted === true) this.enqueue(`${line.text}\n`);
      else if (line.level <= this.globalLevel) this.enqueue(formatLogLine(line.atMs, line.level, line.id, line.text));
    }
    this.flush();
  }

  /**
   * For an engine process: lines are filtered and formatted here, then handed to `sink` once per
   * event-loop turn (or at once past the buffer bound); the worker process writes them.
   */
  openSink(sink: (text: string) => void): void {
    this.sink = sink;
    this.target = { file: null, mode: 'append', stderr: false };
    this.startupLines = [];
  }

  /** Lines already formatted elsewhere (an engine process), written in arrival order with this logger's own. */
  writeFormatted(text: string): void {
    if (text === '') return;
    if (this.target === null) {
      // Before `open` nothing can be written yet: keep them as start-up lines of the highest level.
      for (const line of text.split('\n')) if (line !== '') this.startupLines.push({ level: 0, id: '', text: line, atMs: Date.now(), formatted: true });
      return;
    }
    this.enqueue(text);
  }

  /** Start-up failed: every buffered line, all levels, to stderr in stunnel's `[!] text` form. */
  dumpStartupLinesToStderr(): void {
    const text = this.startupLines.map((line) => (line.formatted === true ? `${line.text}\n` : formatStartupLine(line.level, line.text))).join('');
    this.startupLines = [];
    if (text !== '') writeSync(2, text);
  }

  /** SIGUSR1: the operator has renamed the file; lines before this call stay in the renamed one. */
  reopen(): void {
    this.flush();
    this.closeFile();
    this.openFile();
  }

  /** Switch to a new target (reload may change output or log mode). */
  retarget(target: LogTarget): void {
    const same = this.target !== null && this.target.file === target.file && this.target.mode === target.mode;
    this.flush();
    this.target = target;
    if (!same) {
      this.closeFile();
      this.openFile();
    }
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    if (this.sink !== null) {
      this.sink(text);
      return;
    }
    if (this.target?.stderr === true) this.writeOrReport(2, text, 'stderr');
    if (this.fd !== null) {
      this.checkFileStillLinked();
      if (this.fd !== null && !this.writeOrReport(this.fd, text, this.target?.file ?? 'log file') && this.target?.stderr !== true) {
        // The file write failed: the lines must not be lost, so stderr (SYSLST) gets them.
        this.writeOrReport(2, text, 'stderr');
      }
    }
  }

  close(): void {
    this.flush();
    this.closeFile();
  }

  private enqueue(line: string): void {
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (this.pendingBytes >= MAX_BUFFERED_BYTES) {
      this.flush();
      return;
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  private openFile(): void {
    const file = this.target?.file ?? null;
    if (file === null) return;
    try {
      this.fd = openSync(file, this.target?.mode === 'overwrite' ? 'w' : 'a', 0o640);
      this.writeFailureReported = false;
    } catch (error) {
      this.fd = null;
      this.reportToStderr(`Cannot open log file ${file}: ${getSystemErrorCode(error) ?? String(error)}; logging to stderr`);
    }
  }

  private closeFile(): void {
    if (this.fd === null) return;
    try {
      closeSync(this.fd);
    } catch (error) {
      this.reportToStderr(`Closing the log file failed: ${getSystemErrorCode(error) ?? String(error)}`);
    }
    this.fd = null;
  }

  /**
   * A deleted log file would swallow every later line unseen: recreate it and say so. Checked before
   * every flush (one fstat per event-loop turn that logged anything), so no batch goes to a file
   * that no longer has a name.
   */
  private checkFileStillLinked(): void {
    if (this.fd === null) return;
    try {
      if (fstatSync(this.fd).nlink > 0) return;
    } catch (error) {
      this.reportToStderr(`Checking the log file failed: ${getSystemErrorCode(error) ?? String(error)}`);
      return;
    }
    this.reportToStderr(`Log file ${this.target?.file ?? ''} was deleted; recreating it`);
    this.closeFile();
    this.openFile();
  }

  private writeOrReport(fd: number, text: string, what: string): boolean {
    try {
      const buffer = Buffer.from(text);
      let offset = 0;
      while (offset < buffer.length) offset += writeSync(fd, buffer, offset);
      return true;
    } catch (error) {
      if (fd !== 2 && !this.writeFailureReported) {
        this.writeFailureReported = true;
        this.reportToStderr(`Writing to ${what} failed: ${getSystemErrorCode(error) ?? String(error)}; lines go to stderr until it works again`);
      }
      return false;
    }
  }

  private reportToStderr(text: string): void {
    try {
      writeSync(2, formatLogLine(Date.now(), 3, 'log', text));
    } catch (error) {
      // stderr itself is gone (closed SYSLST): nothing left to tell, and the worker must go on.
      if (getSystemErrorCode(error) === undefined) throw error;
    }
  }
}
