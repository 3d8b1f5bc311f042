import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IN_USE_DIR, markInUse } from '../../src/common/in-use.js';
import { processIdentity } from '../../src/common/process-identity.js';
import { pruneLeastRecentlyUsed } from '../../src/builder/steps/cache-prune.js';

describe('pruneLeastRecentlyUsed', () => {
  let parent: string;
  beforeEach(() => {
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'kiwi-cache-prune-'));
  });
  afterEach(() => fs.rmSync(parent, { recursive: true, force: true }));

  /** An entry last used `minutesAgo` minutes ago: its in-use marks (of `inner`, when given) changed then. */
  function entry(name: string, minutesAgo: number, inner?: string): string {
    const dir = path.join(parent, name);
    const marks = path.join(dir, ...(inner ? [inner] : []), IN_USE_DIR);
    fs.mkdirSync(marks, { recursive: true });
    fs.writeFileSync(path.join(dir, 'layer.json'), '{}');
    const then = new Date(Date.now() - minutesAgo * 60_000);
    for (const file of [marks, ...(inner ? [path.join(dir, inner)] : []), dir]) fs.utimesSync(file, then, then);
    return dir;
  }

  it('keeps the entry in use, the most recently used others, and what a live build marks or locks', async () => {
    entry('current', 500);
    entry('recent-1', 1);
    entry('recent-2', 2, 'state-a');
    entry('old-free', 60);
    entry('old-packages', 70, 'state-b');
    const marked = entry('old-marked', 80);
    const locked = entry('old-locked', 90);
    fs.mkdirSync(path.join(parent, '.tmp-new-1234'));
    const use = await markInUse(marked);
    // markInUse made the entry look recent: date it back again.
    const then = new Date(Date.now() - 80 * 60_000);
    fs.utimesSync(path.join(marked, IN_USE_DIR), then, then);
    fs.writeFileSync(`${locked}.lock`, processIdentity()!);

    const removed = await pruneLeastRecentlyUsed(parent, { keep: 'current', maxUnused: 2 });

    expect(removed.sort()).toEqual(['old-free', 'old-packages']);
    expect(fs.readdirSync(parent).sort()).toEqual(['.tmp-new-1234', 'current', 'old-locked', 'old-locked.lock', 'old-marked', 'recent-1', 'recent-2']);
    await use.release();
  });

  it('removes an old entry once its build has ended, and leaves its lock file free', async () => {
    entry('current', 0);
    const dir = entry('old', 30);
    // A mark of a process that is gone: pid 1 with another start time.
    fs.writeFileSync(path.join(dir, IN_USE_DIR, '1-0'), '');
    fs.utimesSync(path.join(dir, IN_USE_DIR), new Date(0), new Date(0));
    expect(await pruneLeastRecentlyUsed(parent, { keep: 'current', maxUnused: 0 })).toEqual(['old']);
    expect(fs.readdirSync(parent)).toEqual(['current']);
  });
});
