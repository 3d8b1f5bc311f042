import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeCpio } from '../../src/box/recipe/cpio.js';
import { tempDir } from '../fixtures/box-fixture.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

describe('writeCpio', () => {
  it('writes a newc header of 110 bytes, the name padded to 4 bytes, then the data padded to 4', () => {
    const archive = writeCpio([{ type: 'file', path: '/init', data: Buffer.from('abcde'), mode: 0o755 }]);
    const head = archive.subarray(0, 110).toString('ascii');
    expect(head.slice(0, 6)).toBe('070701');
    const field = (i: number): number => parseInt(head.slice(6 + i * 8, 14 + i * 8), 16);
    expect(field(0)).toBe(1); // ino
    expect(field(1)).toBe(0o100755); // regular file, rwxr-xr-x
    expect(field(6)).toBe(5); // file size
    expect(field(11)).toBe(5); // "init\0"
    // 110 + 5 = 115 → name padded to 116; data 5 → padded to 124; then the trailer.
    expect(archive.subarray(110, 116).toString('latin1')).toBe('init\0\0');
    expect(archive.subarray(116, 121).toString()).toBe('abcde');
    expect(archive.subarray(124, 130).toString()).toBe('070701');
    expect(archive.subarray(124 + 110, 124 + 110 + 10).toString()).toBe('TRAILER!!!');
    expect(archive.length % 4).toBe(0);
  });

  it('is read back by GNU cpio with the same files, links, modes and device numbers', () => {
    const archive = writeCpio([
      { type: 'dir', path: 'bin' },
      { type: 'file', path: 'bin/busybox', data: Buffer.from('#!fake\n'), mode: 0o755 },
      { type: 'symlink', path: 'bin/sh', target: 'busybox' },
      { type: 'dir', path: 'dev' },
      { type: 'chardev', path: 'dev/console', major: 5, minor: 1 },
      { type: 'file', path: 'etc-modules', data: Buffer.alloc(0) },
    ]);
    const listing = execFileSync('cpio', ['-itv', '--quiet'], { input: archive, encoding: 'utf8' });
    const lines = listing.trim().split('\n');
    expect(lines).toHaveLength(6);
    expect(lines[1]).toMatch(/^-rwxr-xr-x .* 7 .* bin\/busybox$/);
    expect(lines[2]).toMatch(/^lrwxrwxrwx .* bin\/sh -> busybox$/);
    expect(lines[4]).toMatch(/^crw------- .* 5,\s+1 .* dev\/console$/);

    const dir = tempDir();
    dirs.push(dir);
    execFileSync('cpio', ['-idm', '--quiet', '--no-absolute-filenames'], { input: archive, cwd: dir });
    expect(fs.readFileSync(path.join(dir, 'bin/busybox'), 'utf8')).toBe('#!fake\n');
    expect(fs.readlinkSync(path.join(dir, 'bin/sh'))).toBe('busybox');
    expect(fs.statSync(path.join(dir, 'bin/busybox')).mode & 0o777).toBe(0o755);
  });

  it('writes the same bytes for the same entries (no timestamps, inode numbers in order)', () => {
    const entries = [{ type: 'file' as const, path: 'a', data: Buffer.from('x') }];
    expect(writeCpio(entries).equals(writeCpio(entries))).toBe(true);
  });

  it('refuses duplicate and escaping paths', () => {
    expect(() => writeCpio([{ type: 'dir', path: 'a' }, { type: 'dir', path: '/a' }])).toThrow(/duplicate/);
    expect(() => writeCpio([{ type: 'dir', path: '../etc' }])).toThrow(/bad cpio path/);
  });
});
