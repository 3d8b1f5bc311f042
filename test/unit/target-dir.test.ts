import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkTargetDir, createTargetDir } from '../../src/builder/outputs/target-dir.js';
import { UsageError } from '../../src/common/errors.js';

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
