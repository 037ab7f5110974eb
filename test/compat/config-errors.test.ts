// Broken configuration files, each run through `stunnel4 FILE` and `stunnelctl run FILE`: both must
// exit non-zero, end with `Configuration failed`, and stop at the same first error, at the same
// file and line (`FILE:LINE: "raw line": reason`) or, for the checks stunnel makes when a section is
// complete, on the same section (`Service [x]: reason`). stunnel stops at the first error;
// stunnelctl reports every one, so a file with several errors shows all of them.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createPki } from '../helpers/pki.js';
import type { Pki } from '../helpers/pki.js';
import { getFreePorts, isAccepting } from '../helpers/ports.js';
import { formatResult } from '../helpers/processes.js';
import type { CommandResult } from '../helpers/processes.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { ENGINE_KINDS, engineFiles, runEngineToExit, withEngine } from './support/engines.js';
import type { EngineKind } from './support/engines.js';
import { FIXTURE_DIR, lineOf, readExpectations, readFixture, renderTemplate, writeFixture } from './support/fixtures.js';
import type { FixtureVariables } from './support/fixtures.js';
import { firstPlacedError, parseStartupErrors } from './support/startup-errors.js';
import type { StartupError } from './support/startup-errors.js';
import type { PerEngine } from './support/scenario.js';

const BROKEN_FIXTURES = [
  'error-unknown-option.conf',
  'error-no-equals.conf',
  'error-global-in-section.conf',
  'error-bad-yes-no.conf',
  'error-timeout-trailing-comment.conf',
  'error-missing-endpoint.conf',
  'error-server-without-cert.conf',
  'error-version-range.conf',
  'error-verify-chain-without-ca.conf',
  'error-check-host-without-verify.conf',
  'error-include-bad-file.conf',
  'error-several.conf',
  'error-ticket-key.conf',
  'error-setuid-unknown.conf',
  'error-debug-facility.conf',
  'error-debug-bad-facility.conf',
] as const;

interface BrokenRun {
  result: CommandResult;
  errors: StartupError[];
  /** Rendered main file and include directory, realpath'd as both programs report them. */
  configFile: string;
  includeDir: string;
  variables: FixtureVariables;
}

/** Renders every file of fixture directory `name` into `target`. */
const writeFixtureDirectory = (name: string, variables: FixtureVariables, target: string): void => {
  mkdirSync(target, { recursive: true });
  for (const file of readdirSync(join(FIXTURE_DIR, name))) writeFixture(`${name}/${file}`, variables, join(target, file));
};

const the = (expectations: Map<string, string[]>, key: string): string | undefined => expectations.get(key)?.[0];

describe('broken configuration files: stunnel4 and stunnelctl stop at the same first error', () => {
  let dir: string;
  let pki: Pki;

  before(async () => {
    dir = realpathSync(makeTempDir('compat-errors'));
    pki = await createPki(dir, 'server');
  });

  after(() => {
    if (dir !== undefined) removeTempDir(dir);
  });

  const runBroken = async (fixture: string): Promise<PerEngine<BrokenRun>> => {
    const label = fixture.replace(/\.conf$/, '');
    const runs: Partial<PerEngine<BrokenRun>> = {};
    for (const kind of ENGINE_KINDS) {
      const [acceptPort, acceptPort2, backendPort] = (await getFreePorts(3)) as [number, number, number];
      const files = engineFiles(dir, label, kind);
      const includeDir = join(dir, `${label}-${kind}.d`);
      const variables: FixtureVariables = {
        ACCEPT_PORT: acceptPort, ACCEPT_PORT_2: acceptPort2, BACKEND_PORT: backendPort, SERVER_PEM: pki.pemFile,
        LOG_FILE: files.log, PID_FILE: files.pid, INCLUDE_DIR: includeDir,
      };
      writeFixtureDirectory('include-bad.d', variables, includeDir);
      writeFixture(fixture, variables, files.config);
      const result = await runEngineToExit(kind, [files.config]);
      runs[kind] = { result, errors: parseStartupErrors(result.stderr), configFile: files.config, includeDir, variables };
    }
    return runs as PerEngine<BrokenRun>;
  };

  for (const fixture of BROKEN_FIXTURES) {
    const expectations = readExpectations(fixture);
    const section = the(expectations, 'error-section');
    const at = the(expectations, 'error-at');
    const what = section === undefined ? `at "${at ?? '?'}"` : `on section [${section}]`;

    it(`${fixture}: both exit 1 with the first error ${what}`, async () => {
      const runs = await runBroken(fixture);
      const firsts: Partial<PerEngine<StartupError>> = {};
      for (const kind of ENGINE_KINDS) {
        const { result, errors } = runs[kind];
        const context = `${kind}: ${formatResult(result)}`;
        assert.equal(result.code, 1, `${kind} must exit 1 on a broken configuration\n${context}`);
        assert.equal(result.stdout, '', `${kind} prints start-up failures on stderr only\n${context}`);
        const lastError = result.stderr.split('\n').filter((line) => line.startsWith('[!] ')).at(-1);
        assert.equal(lastError, '[!] Configuration failed', `${kind}: the last error line\n${context}`);
        const first = firstPlacedError(errors);
        assert.ok(first !== undefined, `${kind} printed no FILE:LINE or Service [x] error\n${context}`);
        firsts[kind] = first;
        assertFirstError(kind, first, runs[kind], fixture, expectations, context);
      }
      const stunnel = firsts.stunnel4 as StartupError;
      const stunnelctl = firsts.stunnelctl as StartupError;
      // The same place (file, line, section) and reason. Each engine has its own rendered copy of the
      // files, so a file is compared by its role: the main file, or which included file.
      const place = (kind: EngineKind, error: StartupError) => ({
        file: error.file === null ? null : error.file === runs[kind].configFile ? 'the main file' : basename(error.file),
        line: error.line,
        section: error.section,
        reason: error.reason,
      });
      const expected = place('stunnel4', stunnel);
      const actual = place('stunnelctl', stunnelctl);
      // stunnel prints section checks without a place; stunnelctl adds the section header's (checked above).
      if (expected.line === null) Object.assign(actual, { file: null, line: null });
      // Where the fixture allows wording to differ (an option name stunnelctl refuses), only the common part counts.
      const common = the(expectations, 'error-reason-contains');
      if (common !== undefined) for (const side of [expected, actual]) side.reason = side.reason.includes(common) ? `... ${common} ...` : side.reason;
      assert.deepEqual(actual, expected, `stunnelctl's first error differs from stunnel4's:\n  stunnel4:   ${stunnel.text}\n  stunnelctl: ${stunnelctl.text}`);
    });
  }

  it('error-several.conf: stunnel4 reports only the first error, stunnelctl every one of them', async () => {
    const fixture = 'error-several.conf';
    const expectations = readExpectations(fixture);
    const runs = await runBroken(fixture);
    const allLines = [the(expectations, 'error-at'), ...(expectations.get('also-at') ?? [])].map((text) => lineOf(fixture, text ?? ''));
    const placed = (kind: EngineKind): Array<number | null> => runs[kind].errors.filter((error) => error.line !== null).map((error) => error.line);
    assert.deepEqual(placed('stunnel4'), allLines.slice(0, 1), `stunnel4 stops at the first error:\n${runs.stunnel4.result.stderr}`);
    assert.deepEqual(placed('stunnelctl'), allLines, `stunnelctl reports every error, in file order:\n${runs.stunnelctl.result.stderr}`);
  });

  /** A one-service configuration for `kind`, with its own ports and files: the global lines, then `[svc]` with `service`. */
  const writeOneService = async (label: string, kind: EngineKind, globals: (files: ReturnType<typeof engineFiles>) => string[], service: readonly string[]) => {
    const [acceptPort, backendPort] = (await getFreePorts(2)) as [number, number];
    const files = engineFiles(dir, label, kind);
    writeFileSync(files.config, [
      'foreground = yes', ...globals(files),
      '[svc]', `accept = 127.0.0.1:${acceptPort}`, `connect = 127.0.0.1:${backendPort}`, ...service,
    ].join('\n'));
    return { files, acceptPort };
  };

  it('ciphersuites with no TLS 1.3 suite OpenSSL knows: both refuse to start ("no cipher match"), where Node alone would use the defaults', async () => {
    for (const kind of ENGINE_KINDS) {
      const { files } = await writeOneService('ciphersuites-garbage', kind, (own) => [`pid = ${own.pid}`, `output = ${own.log}`], [`cert = ${pki.pemFile}`, 'ciphersuites = GARBAGE']);
      const result = await runEngineToExit(kind, [files.config]);
      const context = `${kind}: ${formatResult(result)}`;
      assert.equal(result.code, 1, `${kind} exits 1\n${context}`);
      assert.match(result.stderr, /no cipher match/, `${kind} says why\n${context}`);
      assert.match(result.stderr, /\[!\] Configuration failed/, `${kind}: Configuration failed\n${context}`);
    }
  });

  it('a PSKsecrets file other users can read: both warn "Insecure file permissions on FILE" and start', async () => {
    const secrets = join(dir, 'psk-644.txt');
    writeFileSync(secrets, 'client1:0123456789abcdef0123456789abcdef\n');
    chmodSync(secrets, 0o644);
    for (const kind of ENGINE_KINDS) {
      const { files } = await writeOneService('psk-permissions', kind, (own) => [`pid = ${own.pid}`, `output = ${own.log}`, 'debug = info'], [`PSKsecrets = ${secrets}`]);
      await withEngine(kind, files, async (engine) => {
        await engine.waitForLine(/^Accepting new connections$/);
        const warnings = engine.lines().filter((line) => line.level === 4 && line.text === `Insecure file permissions on ${secrets}`);
        assert.equal(warnings.length, 1, `${kind}: one warning for ${secrets}\n${engine.lines().map((line) => line.raw).join('\n')}`);
      });
    }
  });

  it('a pid file in a directory that does not exist: both exit 1 with "Cannot create pid file" and leave no process and no listener', async () => {
    for (const kind of ENGINE_KINDS) {
      const pidFile = join(dir, 'no-such-directory', `${kind}.pid`);
      const { files, acceptPort } = await writeOneService('pid-in-missing-directory', kind, (own) => [`pid = ${pidFile}`, `output = ${own.log}`], [`cert = ${pki.pemFile}`]);
      // runEngineToExit gives up after its timeout: an engine that kept running fails here.
      const result = await runEngineToExit(kind, [files.config]);
      const context = `${kind}: ${formatResult(result)}`;
      assert.equal(result.code, 1, `${kind} exits 1\n${context}`);
      const said = `${result.stderr}\n${existsSync(files.log) ? readFileSync(files.log, 'utf8') : ''}`;
      assert.ok(said.includes(`Cannot create pid file ${pidFile}`), `${kind} says why\n${context}`);
      assert.match(said, /create: No such file or directory \(2\)/, `${kind} gives the system error\n${context}`);
      assert.equal(await isAccepting(acceptPort), false, `${kind} left nothing listening on ${acceptPort}`);
    }
  });

  it('error-include-bad-file.conf: after the included file\'s error both also name the include line ("Failed to include a file")', async () => {
    const fixture = 'error-include-bad-file.conf';
    const runs = await runBroken(fixture);
    const includeLine = lineOf(fixture, 'include = ');
    for (const kind of ENGINE_KINDS) {
      const { errors, configFile, result } = runs[kind];
      const includeError = errors.find((error) => error.file === configFile && error.line === includeLine);
      assert.ok(includeError !== undefined, `${kind} does not name ${configFile}:${includeLine} (the include line):\n${result.stderr}`);
      assert.equal(includeError.reason, 'Failed to include a file', `${kind}: ${includeError.text}`);
    }
  });
});

/** The first error is where the fixture says: file, line, quoted raw line (indentation kept), reason. */
const assertFirstError = (
  kind: EngineKind,
  first: StartupError,
  run: BrokenRun,
  fixture: string,
  expectations: Map<string, string[]>,
  context: string,
): void => {
  const section = the(expectations, 'error-section');
  const reason = the(expectations, 'error-reason');
  const reasonContains = the(expectations, 'error-reason-contains');
  if (reason !== undefined) assert.equal(first.reason, reason, `${kind}: the reason of the first error\n${context}`);
  if (reasonContains !== undefined) assert.ok(first.reason.includes(reasonContains), `${kind}: the reason should contain ${reasonContains}\n${context}`);
  if (section !== undefined) {
    assert.equal(first.section, section, `${kind}: the section of the first error\n${context}`);
    // stunnel prints `Service [x]: reason` with no place; stunnelctl adds the section's header line.
    if (first.line !== null) {
      assert.equal(first.file, run.configFile, `${kind}: file of the section check\n${context}`);
      assert.equal(first.line, lineOf(fixture, `[${section}]`), `${kind}: a section check names the [${section}] line\n${context}`);
    }
    return;
  }
  const at = the(expectations, 'error-at') ?? '';
  const errorFile = the(expectations, 'error-file');
  const template = errorFile ?? fixture;
  const file = errorFile === undefined ? run.configFile : join(run.includeDir, errorFile.split('/').at(-1) ?? '');
  const line = lineOf(template, at);
  const rawTemplateLine = readFixture(template).split('\n')[line - 1] ?? '';
  assert.equal(first.file, file, `${kind}: file of the first error\n${context}`);
  assert.equal(first.line, line, `${kind}: line of the first error\n${context}`);
  assert.equal(first.quoted, renderTemplate(rawTemplateLine, run.variables), `${kind}: the quoted raw line\n${context}`);
};
