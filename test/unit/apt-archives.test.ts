import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BuildLog } from '../../src/builder/build-log.js';
import { holdDownloadsShared, markUsedDownloads, pruneUnusedDownloads, UNUSED_DOWNLOAD_DAYS } from '../../src/builder/steps/apt-archives.js';
import type { RuntimeEvent } from '../../src/protocol/events.js';

const DAY_MS = 24 * 60 * 60_000;

describe('the shared download cache', () => {
  let dir: string;
  let events: RuntimeEvent[];
  let log: BuildLog;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiwi-apt-archives-'));
    events = [];
    log = new BuildLog(path.join(dir, 'log', 'build.log'), (event) => events.push(event));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A .deb of `bytes` bytes last used `daysAgo` days ago. */
  function deb(name: string, daysAgo: number, bytes = 100): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, Buffer.alloc(bytes));
    const then = new Date(Date.now() - daysAgo * DAY_MS);
    fs.utimesSync(file, then, then);
    return file;
  }

  it(`removes the .deb files no build used for ${UNUSED_DOWNLOAD_DAYS} days, and says how much it freed`, async () => {
    const stale = [deb('old_1.0_amd64.deb', UNUSED_DOWNLOAD_DAYS + 1, 1000), deb('older_2%3a1.0_all.deb', 400, 24)];
    const recent = deb('recent_1.0_amd64.deb', UNUSED_DOWNLOAD_DAYS - 1);
    const notDeb = deb('lock', 400);
    fs.mkdirSync(path.join(dir, 'partial'));
    await pruneUnusedDownloads(dir, log);
    for (const file of stale) expect(fs.existsSync(file), file).toBe(false);
    for (const file of [recent, notDeb, path.join(dir, 'partial')]) expect(fs.existsSync(file), file).toBe(true);
    expect(events).toContainEqual(expect.objectContaining({ level: 'info', message: `removed 2 downloaded packages no build used for ${UNUSED_DOWNLOAD_DAYS} days (1.0 KiB)` }));
  });

  it('removes nothing while a build container holds the cache (its script\'s shared lock)', async () => {
    const stale = deb('old_1.0_amd64.deb', 400);
    const holder = spawn('bash', ['-c', [...holdDownloadsShared(dir), 'echo locked', 'read'].join('\n')], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      await new Promise((resolve) => holder.stdout.once('data', resolve));
      await pruneUnusedDownloads(dir, log);
      expect(fs.existsSync(stale)).toBe(true);
      expect(events).toContainEqual(expect.objectContaining({ message: 'downloaded packages not pruned: another build is using them' }));
    } finally {
      holder.stdin.end();
      await new Promise((resolve) => holder.once('exit', resolve));
    }
    await pruneUnusedDownloads(dir, log);
    expect(fs.existsSync(stale)).toBe(false);
  });

  it.skipIf(!fs.existsSync('/usr/bin/dpkg-query'))('marks the .deb of every installed package as used, epochs spelled as apt names the files', async () => {
    // This host's own dpkg database stands in for the image root's: one package with an epoch and one without.
    const installed = String((await execa('dpkg-query', ['-W', '-f', '${Package} ${Version} ${Architecture}\\n'])).stdout).split('\n').map((line) => line.split(' '));
    const withEpoch = installed.find(([, version]) => version?.includes(':'));
    const plain = installed.find(([, version]) => version && !version.includes(':'));
    expect(withEpoch && plain).toBeTruthy();
    const name = ([pkg, version, arch]: string[]) => `${pkg}_${version!.replaceAll(':', '%3a')}_${arch}.deb`;
    const used = [deb(name(withEpoch!), 400), deb(name(plain!), 400)];
    const unused = deb('not-installed-here_1.0_all.deb', 400);
    await execa('bash', ['-c', markUsedDownloads(dir)]);
    for (const file of used) expect(Date.now() - fs.statSync(file).mtimeMs, file).toBeLessThan(DAY_MS);
    expect(Date.now() - fs.statSync(unused).mtimeMs).toBeGreaterThan(DAY_MS);
    expect(fs.readdirSync(dir).filter((file) => file.endsWith('.deb'))).toHaveLength(3);
  });
});
