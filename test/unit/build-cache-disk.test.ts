import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildCacheDiskDir } from '../../src/box/paths.js';
import { acquireBuildCacheDisk } from '../../src/vm/build-cache-disk.js';
import { tempDir } from '../fixtures/temp-dir.js';

// Real qcow2 files made by qemu-img (no VM): what each VM gets, and when its writes reach the base.
const GiB = 1024 ** 3;

function backingOf(file: string): string | undefined {
  return (JSON.parse(execFileSync('qemu-img', ['info', '--output=json', file], { encoding: 'utf8' })) as { 'backing-filename'?: string })['backing-filename'];
}

describe('build cache disk', () => {
  it('gives every VM its own overlay over one base, and saves only the writes of a VM no other VM overlapped', async () => {
    const cacheRoot = tempDir();
    const dir = buildCacheDiskDir(cacheRoot, 'debian', 'x86_64');
    const first = await acquireBuildCacheDisk({ cacheRoot, name: 'debian', arch: 'x86_64', sizeBytes: 4 * GiB });
    const second = await acquireBuildCacheDisk({ cacheRoot, name: 'debian', arch: 'x86_64', sizeBytes: 4 * GiB });
    expect(first.file).not.toBe(second.file);
    expect(backingOf(first.file)).toBe(path.join(dir, 'base.qcow2'));
    expect(fs.readdirSync(path.join(dir, 'users'))).toHaveLength(2);
    // The second VM still reads the base: the first one's writes cannot go into it.
    expect(await first.release(true)).toBe(false);
    expect(await second.release(true)).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'generation'), 'utf8').trim()).toBe('1');
    expect([...fs.readdirSync(path.join(dir, 'users')), ...fs.readdirSync(path.join(dir, 'overlays'))]).toEqual([]);
  });

  it('does not save a VM\'s writes made over a base that changed since it started, nor when asked not to', async () => {
    const cacheRoot = tempDir();
    const early = await acquireBuildCacheDisk({ cacheRoot, name: 'debian', arch: 'x86_64', sizeBytes: 4 * GiB });
    const late = await acquireBuildCacheDisk({ cacheRoot, name: 'debian', arch: 'x86_64', sizeBytes: 4 * GiB });
    expect(await late.release(false)).toBe(false);
    const third = await acquireBuildCacheDisk({ cacheRoot, name: 'debian', arch: 'x86_64', sizeBytes: 4 * GiB });
    // `early` is still reading the base: `third` cannot save.
    expect(await third.release(true)).toBe(false);
    // Now `early` is alone and nothing changed the base since it started.
    expect(await early.release(true)).toBe(true);
    const after = await acquireBuildCacheDisk({ cacheRoot, name: 'debian', arch: 'x86_64', sizeBytes: 4 * GiB });
    const overlapping = await acquireBuildCacheDisk({ cacheRoot, name: 'debian', arch: 'x86_64', sizeBytes: 4 * GiB });
    expect(await after.release(true)).toBe(false);
    expect(await overlapping.release(true)).toBe(true);
    // A VM that started before that commit (generation 2) and ends after it must not save.
    const stale = await acquireBuildCacheDisk({ cacheRoot, name: 'debian', arch: 'x86_64', sizeBytes: 4 * GiB });
    const committer = await acquireBuildCacheDisk({ cacheRoot, name: 'debian', arch: 'x86_64', sizeBytes: 4 * GiB });
    fs.rmSync(path.join(buildCacheDiskDir(cacheRoot, 'debian', 'x86_64'), 'users', path.basename(stale.file, '.qcow2')));
    expect(await committer.release(true)).toBe(true);
    expect(await stale.release(true)).toBe(false);
  });

  it('removes the marks and overlays of kiwi processes that died, and grows the base for a larger size', async () => {
    const cacheRoot = tempDir();
    const dir = buildCacheDiskDir(cacheRoot, 'debian', 'x86_64');
    await (await acquireBuildCacheDisk({ cacheRoot, name: 'debian', arch: 'x86_64', sizeBytes: 4 * GiB })).release(false);
    fs.writeFileSync(path.join(dir, 'users', '999999999-1.dead'), '');
    fs.writeFileSync(path.join(dir, 'overlays', '999999999-1.dead.qcow2'), '');
    const disk = await acquireBuildCacheDisk({ cacheRoot, name: 'debian', arch: 'x86_64', sizeBytes: 8 * GiB });
    expect(fs.readdirSync(path.join(dir, 'users')).filter((name) => name.startsWith('999999999-'))).toEqual([]);
    expect(fs.readdirSync(path.join(dir, 'overlays')).filter((name) => name.startsWith('999999999-'))).toEqual([]);
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', path.join(dir, 'base.qcow2')], { encoding: 'utf8' })) as { 'virtual-size': number };
    expect(info['virtual-size']).toBe(8 * GiB);
    expect(await disk.release(true)).toBe(true);
  });
});
