import fs from 'node:fs/promises';
import path from 'node:path';
import { ARCHES } from '../common/arch.js';
import { tryAcquireLock } from '../common/lock.js';
import { readdirOrEmpty } from '../common/read-dir.js';
import * as paths from './paths.js';
import { diskUsage, readCurrent, removeVersion, versionEntries } from './store.js';

export interface PruneReport {
  freed: number;
  /** What was removed, as paths relative to the cache root. */
  removed: string[];
  /** What was left and why (in use, busy). */
  kept: string[];
}

/**
 * `kiwi box prune`: drops every version that is not current and not in use, leftovers of
 * interrupted fetches (staging dirs, partial downloads nobody is writing) — in every box in
 * the cache, whether or not the catalog still names it.
 */
export async function pruneCache(root: string): Promise<PruneReport> {
  const report: PruneReport = { freed: 0, removed: [], kept: [] };
  for (const name of await readdirOrEmpty(root)) {
    if (name.startsWith('.')) continue;
    for (const arch of ARCHES) await pruneBox(root, name, arch, report);
  }
  await prunePartials(root, report);
  return report;
}

async function pruneBox(root: string, name: string, arch: (typeof ARCHES)[number], report: PruneReport): Promise<void> {
  const entries = await versionEntries(root, name, arch);
  if (entries.length === 0) return;
  const lock = await tryAcquireLock(paths.lockFile(root, name, arch));
  if (!lock) {
    report.kept.push(`${name}/${arch}: being fetched right now`);
    return;
  }
  try {
    const current = await readCurrent(root, name, arch);
    for (const entry of entries) {
      if (entry === current?.id) continue;
      const dir = path.join(paths.versionsDir(root, name, arch), entry);
      const relative = path.relative(root, dir);
      const result = await removeVersion(dir);
      if ('usedBy' in result) {
        report.kept.push(`${relative}: in use by a running VM`);
      } else {
        report.freed += result.freed;
        report.removed.push(relative);
      }
    }
  } finally {
    await lock.release();
  }
}

/** Partial downloads whose writer is gone; a download in progress holds `<part>.lock`. */
async function prunePartials(root: string, report: PruneReport): Promise<void> {
  const dir = paths.partialDir(root);
  for (const entry of await readdirOrEmpty(dir)) {
    if (!entry.endsWith('.part')) continue;
    const partial = path.join(dir, entry);
    const lock = await tryAcquireLock(`${partial}.lock`);
    if (!lock) {
      report.kept.push(`${path.relative(root, partial)}: being downloaded right now`);
      continue;
    }
    try {
      report.freed += await diskUsage(partial);
      await fs.rm(partial, { force: true });
      await fs.rm(`${partial}.json`, { force: true });
      report.removed.push(path.relative(root, partial));
    } finally {
      await lock.release();
    }
  }
}
