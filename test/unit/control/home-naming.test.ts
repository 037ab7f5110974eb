// The naming table: every file name of both schemes, spelled exactly as SPEC.md §2 has them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  DEFAULT_LEVEL,
  HOME_LOCK_NAME,
  HOME_MANIFEST_NAME,
  createHomeFiles,
  formatArchivedLogPath,
  formatBackupPath,
  isValidLevel,
  LOGROTATE_DATE_FORMAT,
} from '../../../src/control/home-naming.js';

test('bs2000 names carry the level nnn, 001 by default', () => {
  assert.equal(DEFAULT_LEVEL, '001');
  assert.deepEqual(createHomeFiles('/srv/h', { scheme: 'bs2000', level: '001' }), {
    home: '/srv/h',
    manifest: `/srv/h/${HOME_MANIFEST_NAME}`,
    lock: `/srv/h/${HOME_LOCK_NAME}`,
    jobFile: '/srv/h/SYSENT.TCP-IP-AP.001.STUNNEL',
    config: '/srv/h/SYSDAT.TCP-IP-AP.001.STUNNEL.CONF',
    testPem: '/srv/h/SYSDAT.TCP-IP-AP.001.STUNNEL.PEM',
    pid: '/srv/h/SYSDAT.TCP-IP-AP.001.STUNNEL.TSN',
    state: '/srv/h/SYSDAT.TCP-IP-AP.001.STUNNEL.TSN.state',
    log: '/srv/h/SYSLOG.TCP-IP-AP.001.STUNNEL',
    syslst: '/srv/h/SYSLST.TCP-IP-AP.001.STUNNEL.JOB',
    serverPem: '/srv/h/SYSDAT.TCP-IP-AP.001.SERVER.PEM',
    jobClasses: '/srv/h/SYSDAT.TCP-IP-AP.001.STUNNEL.JOB-CLASSES',
    systemdUnit: '/srv/h/stunnel-001.service',
    systemdForegroundUnit: '/srv/h/stunnel-001-foreground.service',
    logrotate: '/srv/h/SYSDAT.TCP-IP-AP.001.STUNNEL.LOGROTATE',
  });
});

test('bs2000 names follow another level', () => {
  const files = createHomeFiles('/h', { scheme: 'bs2000', level: '042' });
  assert.equal(files.config, '/h/SYSDAT.TCP-IP-AP.042.STUNNEL.CONF');
  assert.equal(files.pid, '/h/SYSDAT.TCP-IP-AP.042.STUNNEL.TSN');
  assert.equal(files.serverPem, '/h/SYSDAT.TCP-IP-AP.042.SERVER.PEM');
});

test('posix names ignore the level', () => {
  assert.deepEqual(createHomeFiles('/h', { scheme: 'posix', level: '007' }), {
    home: '/h',
    manifest: `/h/${HOME_MANIFEST_NAME}`,
    lock: `/h/${HOME_LOCK_NAME}`,
    jobFile: '/h/stunnel.job',
    config: '/h/stunnel.conf',
    testPem: '/h/stunnel.pem',
    pid: '/h/stunnel.pid',
    state: '/h/stunnel.pid.state',
    log: '/h/stunnel.log',
    syslst: '/h/stunnel.job.log',
    systemdUnit: '/h/stunnel.service',
    systemdForegroundUnit: '/h/stunnel-foreground.service',
    logrotate: '/h/stunnel.logrotate',
    serverPem: '/h/server.pem',
    jobClasses: '/h/job-classes.conf',
  });
});

test('an archived log is <log>.<yyyy-MM-dd.HHmmss>, then -2, -3 within the same second', () => {
  const at = new Date(2025, 10, 25, 7, 4, 5);
  assert.equal(formatArchivedLogPath('/h/SYSLOG.TCP-IP-AP.001.STUNNEL', at), '/h/SYSLOG.TCP-IP-AP.001.STUNNEL.2025-11-25.070405');
  assert.equal(formatArchivedLogPath('/h/stunnel.log', at, 2), '/h/stunnel.log.2025-11-25.070405-2');
  assert.equal(formatArchivedLogPath('/h/stunnel.log', at, 3), '/h/stunnel.log.2025-11-25.070405-3');
});

test("logrotate's dateformat names an archive exactly as switch-logfile does (strftime by date(1))", () => {
  // A time whose every field has two digits of its own, so a swapped field would show.
  const at = new Date(2031, 10, 23, 19, 48, 57);
  const strftime = execFileSync('date', ['-d', `@${Math.floor(at.getTime() / 1000)}`, `+${LOGROTATE_DATE_FORMAT}`], { encoding: 'utf8' }).trim();
  assert.equal(`/h/stunnel.log${strftime}`, formatArchivedLogPath('/h/stunnel.log', at));
});

test('a backup is <file>.bak-<yyyyMMdd-HHmmss>, then .1, .2', () => {
  const at = new Date(2025, 0, 2, 23, 59, 58);
  assert.equal(formatBackupPath('/h/stunnel.conf', at), '/h/stunnel.conf.bak-20250102-235958');
  assert.equal(formatBackupPath('/h/stunnel.conf', at, 1), '/h/stunnel.conf.bak-20250102-235958.1');
});

test('a level is exactly three digits', () => {
  assert.equal(isValidLevel('001'), true);
  assert.equal(isValidLevel('1'), false);
  assert.equal(isValidLevel('0001'), false);
  assert.equal(isValidLevel('0a1'), false);
});
