import fs from 'node:fs';
import path from 'node:path';
import { IN_USE_DIR, liveUsers } from '../../common/in-use.js';
import { ifLockFree } from '../../common/lock.js';

/**
 * Keeps a cache directory of layers (bootstrap/<key>/, packages/<lineage>/) from growing
 * without end: of the entries other than `keep`, the `maxUnused` used most recently stay,
 * and older ones go unless a live build uses them or holds their lock (`<entry>.lock`, the
 * lock under which builds mark their use). Entries named `.tmp-…` are left to the code that
 * makes them. Returns the names removed.
 *
 * When an entry was last used is the newest change of its in-use marks (a build adds its
 * mark on use and removes it at its end), of its own or of the layers inside it.
 */
export async function pruneLeastRecentlyUsed(parent: string, options: { keep: string; maxUnused: number }): Promise<string[]> {
  const entries = fs
    .readdirSync(parent, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && entry.name !== options.keep && !entry.name.startsWith('.'))
    .map((entry) => ({ name: entry.name, usedAt: lastUsed(path.join(parent, entry.name)) }))
    .sort((a, b) => b.usedAt - a.usedAt);
  const removed: string[] = [];
  for (const { name } of entries.slice(options.maxUnused)) {
    const dir = path.join(parent, name);
    const gone = await ifLockFree(`${dir}.lock`, async () => {
      if ((await usersWithin(dir)) > 0) return false;
      fs.rmSync(dir, { recursive: true, force: true });
      return true;
    });
    if (gone) removed.push(name);
  }
  return removed;
}

/** Newest mtime of the entry, its in-use marks and those of the directories in it (ms). */
function lastUsed(dir: string): number {
  const times = [mtime(dir), mtime(path.join(dir, IN_USE_DIR))];
  for (const child of fs.readdirSync(dir, { withFileTypes: true })) {
    if (child.isDirectory()) times.push(mtime(path.join(dir, child.name, IN_USE_DIR)));
  }
  return Math.max(...times);
}

/** Live users of the entry and of the directories in it. */
async function usersWithin(dir: string): Promise<number> {
  let users = (await liveUsers(dir)).length;
  for (const child of fs.readdirSync(dir, { withFileTypes: true })) {
    if (child.isDirectory() && child.name !== IN_USE_DIR) users += (await liveUsers(path.join(dir, child.name))).length;
  }
  return users;
}

function mtime(file: string): number {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}
