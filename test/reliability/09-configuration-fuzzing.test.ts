// Figure 9, configuration fuzzing: thousands of mutated configuration files through the real loader
// (`loadConfiguration`): it never throws, never fails without saying why, and every diagnostic is
// located: `FILE:LINE: "raw line": reason` with the line really there, or a section-level message.
// Then each kind of broken file is offered to a live worker with `reload-config`: exit 6, the worker
// keeps its configuration and keeps serving, and still takes a good file afterwards.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { formatDiagnostic, loadConfiguration } from '../../src/config/load.js';
import type { Diagnostic } from '../../src/config/load.js';
import { OPTIONS } from '../../src/config/options.js';
import { startEchoServer } from '../helpers/echo-server.js';
import { createPki } from '../helpers/pki.js';
import { formatResult } from '../helpers/processes.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import { Cleanup } from './support/cleanup.js';
import { assertFigure } from './support/figures.js';
import { createRandom, MUTATION_KINDS, mutateConfiguration } from './support/config-mutations.js';
import { byScale, SCALE } from './support/scale.js';
import { tlsEchoProbe } from './support/traffic.js';
import { editConfig, installHome, readText, startHome } from './support/workers.js';

const MUTATED_FILES = byScale(10_000, 1_000);
/** Fixed unless RELIABILITY_SEED says otherwise: a failure is reproduced by running with its seed. */
const BASE_SEED = Number(process.env.RELIABILITY_SEED ?? 0x5eed);

const baseConfiguration = (dir: string, pem: string): string =>
  [
    '; the valid file every mutation starts from',
    `pid = ${join(dir, 'fuzz.pid')}`,
    `output = ${join(dir, 'fuzz.log')}`,
    'debug = notice',
    'sslVersionMin = TLSv1.2',
    'TIMEOUTclose = 0',
    '',
    '[server]',
    '    accept = 127.0.0.1:44301',
    '    connect = 127.0.0.1:10102',
    `    cert = ${pem}`,
    '    TIMEOUTidle = 600',
    '    socket = a:SO_KEEPALIVE=60',
    '[client]',
    '    client = yes',
    '    accept = 127.0.0.1:44302',
    '    connect = 127.0.0.1:44303',
    '    sni = example.test',
    '    failover = prio',
    '[multi]',
    '    accept = 127.0.0.1:44304',
    '    connect = 127.0.0.1:10103',
    '    connect = 127.0.0.1:10104',
    `    cert = ${pem}`,
    '    ciphers = ECDHE-RSA-AES128-GCM-SHA256',
    '',
  ].join('\n');

/** The lines of a file as the loader sees them (BOM dropped, CRLF or LF). */
const readLines = (file: string): string[] => readText(file).replace(/^\uFEFF/, '').split(/\r?\n/);

/** Why a diagnostic is not located as promised, or undefined when it is. */
const checkDiagnostic = (diagnostic: Diagnostic, file: string, lines: readonly string[]): string | undefined => {
  if (typeof diagnostic.message !== 'string' || diagnostic.message.trim() === '') return 'no message';
  const text = formatDiagnostic(diagnostic);
  if (diagnostic.line === null) {
    return text.startsWith(`${diagnostic.file}: `) ? undefined : `section-level message without its file: ${text.slice(0, 200)}`;
  }
  if (!Number.isInteger(diagnostic.line) || diagnostic.line < 1) return `line ${diagnostic.line} is not a line number`;
  if (!text.startsWith(`${diagnostic.file}:${diagnostic.line}: `)) return `not FILE:LINE: ${text.slice(0, 200)}`;
  if (diagnostic.file !== file) return undefined;
  if (diagnostic.line > lines.length) return `line ${diagnostic.line} is beyond the end of the file (${lines.length} lines)`;
  // Compared without surrounding blanks and CRs: a quoted line may be shown without its trailing CR.
  if (diagnostic.raw !== null && (lines[diagnostic.line - 1] ?? '').trim() !== diagnostic.raw.trim()) {
    return `line ${diagnostic.line} quoted as ${JSON.stringify(diagnostic.raw.slice(0, 80))} but is ${JSON.stringify((lines[diagnostic.line - 1] ?? '').slice(0, 80))}`;
  }
  return undefined;
};

/** Broken files of every kind an operator might save, each made from the home's valid file. */
const BROKEN_KINDS: ReadonlyArray<readonly [string, (lines: string[]) => string[]]> = [
  ['unknown option', (lines) => [...lines, '    frobnicate = yes']],
  ['bad value', (lines) => [...lines, '    TIMEOUTidle = soon']],
  ['port out of range', (lines) => lines.map((line) => line.replace(/^(\s*accept\s*=\s*).*$/, '$1127.0.0.1:99999'))],
  ['service without connect', (lines) => lines.filter((line) => !/^\s*connect\s*=/.test(line))],
  ['missing certificate file', (lines) => lines.map((line) => line.replace(/^(\s*cert\s*=\s*).*$/, '$1/nonexistent/missing.pem'))],
  ['unclosed section header', (lines) => lines.map((line) => line.replace(/^\[(.*)\]$/, '[$1'))],
  ['line without "="', (lines) => [...lines, '    accept 127.0.0.1:1']],
  ['unsupported option', (lines) => [...lines, '    chroot = /var/empty']],
  ['global option in a section', (lines) => [...lines, '    foreground = yes']],
  ['include of a missing directory', (lines) => [...lines, 'include = /nonexistent/conf.d']],
  ['binary garbage', (lines) => [...lines, randomBytes(512).toString('latin1')]],
  ['huge line', (lines) => [...lines, `    ciphers = ${'A'.repeat(1024 * 1024)}`]],
];

describe(`figure 9: configuration fuzzing (${SCALE})`, () => {
  it(`${MUTATED_FILES} mutated configuration files: loadConfiguration never throws, every diagnostic is located`, { timeout: 600_000 }, async () => {
    const dir = makeTempDir('fuzz');
    try {
      const pki = await createPki(dir, 'fuzz');
      const incdir = join(dir, 'conf.d');
      mkdirSync(incdir);
      writeFileSync(join(incdir, 'a.conf'), '[included]\naccept = 127.0.0.1:44305\nconnect = 127.0.0.1:10105\n');
      writeFileSync(join(incdir, 'b.conf'), randomBytes(256));
      const garbagePem = join(dir, 'garbage.pem');
      writeFileSync(garbagePem, randomBytes(1024));
      const paths = [pki.pemFile, pki.certFile, pki.keyFile, garbagePem, join(dir, 'missing.pem'), incdir, dir, join(dir, 'missing.d')];
      const base = baseConfiguration(dir, pki.pemFile);
      const file = join(dir, 'fuzz.conf');
      writeFileSync(file, base);
      const baseline = loadConfiguration(file);
      assert.ok(baseline.config !== undefined, `the base file is valid: ${baseline.diagnostics.map(formatDiagnostic).join('\n')}`);

      const optionNames = OPTIONS.map((option) => option.name);
      const problems: string[] = [];
      let clean = 0;
      let stillValid = 0;
      let diagnosticCount = 0;
      const startedAt = performance.now();
      for (let index = 0; index < MUTATED_FILES; index += 1) {
        const seed = BASE_SEED + index;
        const random = createRandom(seed);
        const { text, applied } = mutateConfiguration(base, { random, optionNames, paths });
        // Half the files as UTF-8, half byte for byte (invalid UTF-8 where garbage was inserted).
        writeFileSync(file, text, random() < 0.5 ? 'utf8' : 'latin1');
        const own: string[] = [];
        try {
          const result = loadConfiguration(file);
          if (result.config === undefined && result.diagnostics.length === 0) own.push('rejected without a diagnostic');
          const lines = readLines(file);
          for (const diagnostic of result.diagnostics) {
            const why = checkDiagnostic(diagnostic, file, lines);
            if (why !== undefined) own.push(why);
          }
          diagnosticCount += result.diagnostics.length;
          if (result.config !== undefined) stillValid += 1;
        } catch (error) {
          own.push(`THREW ${(error as Error).stack ?? String(error)}`.slice(0, 600));
        }
        if (own.length === 0) clean += 1;
        else {
          const kept = join(dir, `failing-${seed}.conf`);
          writeFileSync(kept, readFileSync(file));
          problems.push(`seed ${seed} (${applied.join(', ')}): ${own.join('; ')}`);
        }
      }
      console.log(`fuzz: ${MUTATED_FILES} files in ${((performance.now() - startedAt) / 1000).toFixed(1)} s, ${stillValid} still valid, ${diagnosticCount} diagnostics; mutations: ${MUTATION_KINDS.join(', ')}; base seed ${BASE_SEED}`);
      assertFigure(
        '9 configuration fuzzing: mutated files loaded without a throw, every diagnostic located',
        `${clean}/${MUTATED_FILES}`,
        `${MUTATED_FILES}/${MUTATED_FILES}`,
        clean === MUTATED_FILES,
        problems.slice(0, 15).join('\n'),
      );
    } finally {
      removeTempDir(dir);
    }
  });

  it(`reload-config with each of ${BROKEN_KINDS.length} kinds of broken file: exit 6, the worker keeps serving its configuration`, { timeout: 180_000 }, async () => {
    const cleanup = new Cleanup();
    try {
      const backend = cleanup.add(await startEchoServer(), (server) => server.close());
      const home = cleanup.add(await installHome(backend.port), (installed) => installed.cleanup());
      const pid = await startHome(home);
      const readState = (): { reloadSeq: number; configGeneration: number; status: string; lastReload: { ok: boolean; message: string } | null } =>
        JSON.parse(readFileSync(home.files.state, 'utf8')) as { reloadSeq: number; configGeneration: number; status: string; lastReload: { ok: boolean; message: string } | null };
      const valid = readFileSync(home.files.config, 'utf8');
      const outcomes: string[] = [];
      let kept = 0;
      for (const [kind, breakIt] of BROKEN_KINDS) {
        writeFileSync(home.files.config, valid);
        editConfig(home, breakIt);
        const reload = await home.cli('reload-config');
        const served = await tlsEchoProbe(home.acceptPort).then(() => true, () => false);
        // The worker's own guard, for a file broken between the CLI's check and the signal: SIGHUP directly.
        const seq = readState().reloadSeq;
        process.kill(pid, 'SIGHUP');
        const verdict = await waitFor(() => {
          const state = readState();
          return state.reloadSeq > seq ? state.lastReload : undefined;
        }, { what: `the worker to handle SIGHUP with the "${kind}" file` });
        const servedAfterHup = await tlsEchoProbe(home.acceptPort).then(() => true, () => false);
        // The worker's published state: still running generation 1 (the CLI's status reads the same file).
        const state = readState();
        const ok = reload.code === 6 && reload.stderr.trim() !== '' && served && verdict?.ok === false && servedAfterHup
          && state.status === 'running' && state.configGeneration === 1;
        if (ok) kept += 1;
        outcomes.push(
          `${kind}: reload-config exit ${reload.code}, SIGHUP ${verdict?.ok === false ? 'refused' : 'TAKEN'}, ${served && servedAfterHup ? 'served' : 'NOT served'}, generation ${state.configGeneration}` +
            (ok ? '' : `\n${formatResult(reload)}\n${verdict?.message ?? ''}`.slice(0, 800)),
        );
      }
      writeFileSync(home.files.config, valid);
      const good = await home.cli('reload-config');
      console.log(outcomes.map((line) => `reload: ${line.split('\n')[0] ?? ''}`).join('\n'));
      assertFigure(
        '9 reload-config (and a bare SIGHUP) with each kind of broken file: exit 6, worker keeps its configuration and serves',
        `${kept}/${BROKEN_KINDS.length} kinds`,
        `${BROKEN_KINDS.length}/${BROKEN_KINDS.length}`,
        kept === BROKEN_KINDS.length,
        outcomes.join('\n'),
      );
      assert.equal(good.code, 0, `the worker still takes a good file afterwards\n${formatResult(good)}`);
    } finally {
      await cleanup.run();
    }
  });
});
