import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkTargetDir, checkTargetDirFree, createTargetDir, lockTargetDir } from '../../src/builder/outputs/target-dir.js';
import { EnvironmentError, UsageError } from '../../src/common/errors.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiwi-target-dir-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A file where a user might point --target-dir by mistake. */
function unrelatedFile(): string {
  const file = path.join(dir, 'file');
  fs.writeFileSync(file, 'unrelated');
  return file;
}

describe('createTargetDir', () => {
  it('creates a missing directory and its parents, and accepts an existing one', () => {
    const target = path.join(dir, 'a', 'b');
    createTargetDir(target);
    createTargetDir(target);
    expect(fs.statSync(target).isDirectory()).toBe(true);
  });

  it.each([
    ['is a file', ''],
    ['lies below a file', 'below'],
  ])('refuses a path that %s with a usage error (exit 2), leaving the file be', (_what, below) => {
    const file = unrelatedFile();
    const target = path.join(file, below);
    expect(() => createTargetDir(target)).toThrow(UsageError);
    expect(() => createTargetDir(target)).toThrow(`--target-dir ${target} is not a directory`);
    expect(fs.readFileSync(file, 'utf8')).toBe('unrelated');
  });
});

describe('checkTargetDir', () => {
  it('accepts an existing directory and a missing one below a directory, creating nothing', () => {
    checkTargetDir(dir);
    checkTargetDir(path.join(dir, 'a', 'b'));
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('refuses a file, and a path below a file, as a usage error', () => {
    const file = unrelatedFile();
    expect(() => checkTargetDir(file)).toThrow(UsageError);
    expect(() => checkTargetDir(path.join(file, 'a', 'b'))).toThrow(`--target-dir ${path.join(file, 'a', 'b')} is not a directory`);
  });
});

describe('the target dir lock', () => {
  it('keeps a second build out while one writes into the dir, and lets it in after', async () => {
    const target = path.join(dir, 'out');
    const held = await lockTargetDir(target);
    const busy = `another kiwi build (pid ${process.pid}) is writing into ${target}`;
    expect(() => checkTargetDirFree(target)).toThrow(busy);
    await expect(lockTargetDir(target)).rejects.toThrow(EnvironmentError);
    await expect(lockTargetDir(target)).rejects.toThrow(busy);
    await held.release();
    checkTargetDirFree(target);
    await (await lockTargetDir(target)).release();
    expect(fs.readdirSync(path.join(target, 'build'))).toEqual([]);
  });

  it('takes over the lock of a build that was killed', async () => {
    const target = path.join(dir, 'out');
    fs.mkdirSync(path.join(target, 'build'), { recursive: true });
    // pid 1 with another start time: a process that ran once and is gone.
    fs.writeFileSync(path.join(target, 'build', '.kiwi-build.lock'), '1-0');
    checkTargetDirFree(target);
    await (await lockTargetDir(target)).release();
  });

  it('creates a missing target dir, and refuses a file', async () => {
    await (await lockTargetDir(path.join(dir, 'new', 'out'))).release();
    expect(fs.statSync(path.join(dir, 'new', 'out')).isDirectory()).toBe(true);
    await expect(lockTargetDir(unrelatedFile())).rejects.toThrow(UsageError);
  });
});
