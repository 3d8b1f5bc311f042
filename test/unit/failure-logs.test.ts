import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openFailureLogs } from '../../src/vm/failure-logs.js';

describe('failure logs', () => {
  let dir: string;
  beforeEach(() => {
    dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kiwi-failure-logs-')), 'logs');
  });
  afterEach(() => fs.rmSync(path.dirname(dir), { recursive: true, force: true }));

  /** A failed VM's files, written `ageSeconds` ago. */
  function failure(vmId: string, ageSeconds: number, whats = ['console.log', 'registers.txt']): void {
    fs.mkdirSync(dir, { recursive: true });
    const when = new Date(Date.now() - ageSeconds * 1000);
    for (const what of whats) {
      const file = path.join(dir, `${vmId}-${what}`);
      fs.writeFileSync(file, what);
      fs.utimesSync(file, when, when);
    }
  }

  it('creates the directory and names a VM\'s files after it', async () => {
    const logFile = await openFailureLogs(dir);
    expect(fs.statSync(dir).isDirectory()).toBe(true);
    expect(logFile('0123abcd', 'console.log')).toBe(path.join(dir, '0123abcd-console.log'));
  });

  it('keeps the newest failures, all files of each, and leaves room for the next', async () => {
    failure('aaaa', 50);
    failure('bbbb', 40, ['console.log']);
    failure('cccc', 30);
    failure('dddd', 20);
    await openFailureLogs(dir, 3);
    expect(fs.readdirSync(dir).sort()).toEqual(['cccc-console.log', 'cccc-registers.txt', 'dddd-console.log', 'dddd-registers.txt']);
  });

  it('dates a failure by its newest file', async () => {
    failure('aaaa', 50, ['console.log']);
    failure('aaaa', 5, ['registers.txt']);
    failure('bbbb', 20, ['console.log']);
    await openFailureLogs(dir, 2);
    expect(fs.readdirSync(dir).sort()).toEqual(['aaaa-console.log', 'aaaa-registers.txt']);
  });
});
