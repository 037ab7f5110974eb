// The system files' contents: systemd quoting (specifiers, variables, blanks), and a logrotate
// snippet that renames (never copies or truncates), names archives as switch-logfile does, and
// has the worker reopen through switch-logfile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHomeFiles, LOGROTATE_DATE_FORMAT } from '../../../src/control/home-naming.js';
import { renderLogrotateSnippet, renderSystemdUnits, type SystemFileContext } from '../../../src/control/system-files.js';
import { escapeSystemdValue, quoteSystemdWord } from '../../../src/control/templates.js';

const context = (home: string): SystemFileContext => {
  const files = createHomeFiles(home, { scheme: 'posix', level: '001' });
  return { files, pidFile: files.pid, logFile: files.log, node: '/opt/node/bin/node', cli: '/opt/stunnelctl/dist/src/cli/main.js', user: 'stunnel', manPage: '/opt/stunnelctl/man/stunnelctl.1' };
};

test('systemd words: plain when safe; % and $ doubled; blanks and quotes inside double quotes', () => {
  assert.equal(quoteSystemdWord('/srv/stunnel'), '/srv/stunnel');
  assert.equal(quoteSystemdWord('*STD'), '*STD');
  assert.equal(quoteSystemdWord('/srv/100%'), '/srv/100%%');
  assert.equal(quoteSystemdWord('/srv/$HOME'), '/srv/$$HOME');
  assert.equal(quoteSystemdWord('/srv/my home'), '"/srv/my home"');
  assert.equal(quoteSystemdWord('/srv/a"b'), '"/srv/a\\"b"');
  assert.equal(quoteSystemdWord(''), '""');
  assert.equal(escapeSystemdValue('/srv/50%/x'), '/srv/50%%/x');
});

test('units quote the home everywhere it appears', () => {
  const [detached, foreground] = renderSystemdUnits(context('/srv/my 50% home'), { name: '*HIGH', nice: -5, nofile: 16384 });
  assert.match(detached?.content ?? '', /^ExecStart=\/opt\/node\/bin\/node \/opt\/stunnelctl\/dist\/src\/cli\/main\.js start --home "\/srv\/my 50%% home" --job-class \*HIGH$/m);
  assert.match(detached?.content ?? '', /^PIDFile=\/srv\/my 50%% home\/stunnel\.pid$/m);
  assert.match(detached?.content ?? '', /^Description=.*\(home \/srv\/my 50%% home, job class \*HIGH\)$/m);
  assert.match(foreground?.content ?? '', /^Nice=-5$/m);
  assert.match(foreground?.content ?? '', /^ExecStart=.* run "\/srv\/my 50%% home\/stunnel\.conf"$/m);
  assert.doesNotMatch(`${detached?.content ?? ''}${foreground?.content ?? ''}`, /\{\{/);
});

test('the logrotate snippet renames with switch-logfile names and reopens through switch-logfile', () => {
  const snippet = renderLogrotateSnippet(context('/srv/it\'s')).content;
  const directives = snippet.split('\n').filter((line) => !line.startsWith('#')).map((line) => line.trim());
  assert.ok(directives.includes('"/srv/it\'s/stunnel.log" {'));
  for (const directive of ['nocopy', 'nocopytruncate', 'nocreate', 'dateext', `dateformat ${LOGROTATE_DATE_FORMAT}`, 'nocompress', 'postrotate', 'endscript']) {
    assert.ok(directives.includes(directive), directive);
  }
  for (const forbidden of ['copytruncate', 'copy', 'create', 'compress']) assert.equal(directives.includes(forbidden), false, forbidden);
  assert.ok(directives.includes(`'/opt/node/bin/node' '/opt/stunnelctl/dist/src/cli/main.js' switch-logfile --home '/srv/it'\\''s' || [ $? -eq 7 ]`));
});
