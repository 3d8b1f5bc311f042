import fs from 'node:fs/promises';
import path from 'node:path';
import { tryAcquireLock } from '../common/lock.js';
import { buildCacheDiskDir } from '../box/paths.js';
import type { Arch } from '../common/arch.js';
import { VmError } from './machine.js';

/**
 * --no-snapshot (KIWI's option): the box's root-disk writes kept from one VM to the next, in
 * one qcow2 overlay per box and arch beside its build cache disk. The box's own verified
 * files are never written; a new box version starts the changes afresh (they were made on
 * top of the old disk). One such VM at a time: the overlay is not shareable.
 */
export interface PersistentRoot {
  overlay: string;
  release(): Promise<void>;
}

export async function acquirePersistentRoot(options: {
  cacheRoot: string;
  name: string;
  arch: Arch;
  /** The box version's root disk the overlay sits on. */
  baseDisk: string;
  createOverlay: (base: string, overlay: string) => Promise<void>;
  onNotice?: (message: string) => void;
}): Promise<PersistentRoot> {
  const dir = buildCacheDiskDir(options.cacheRoot, options.name, options.arch);
  const lock = await tryAcquireLock(path.join(dir, 'root-changes.lock'));
  if (!lock) {
    throw new VmError(`another --no-snapshot VM of ${options.name} (${options.arch}) is running`, { hint: 'wait for it to end, or run this one without --no-snapshot' });
  }
  try {
    const overlay = path.join(dir, 'root-changes.qcow2');
    const metaFile = path.join(dir, 'root-changes.json');
    const meta = await fs.readFile(metaFile, 'utf8').then((text) => JSON.parse(text) as { base?: string }, () => undefined);
    const exists = await fs.stat(overlay).then(() => true, () => false);
    if (exists && meta?.base !== options.baseDisk) {
      options.onNotice?.(`box ${options.name} changed since the last --no-snapshot run: its kept changes are dropped`);
      await fs.rm(overlay, { force: true });
    }
    if (!exists || meta?.base !== options.baseDisk) {
      await options.createOverlay(options.baseDisk, overlay);
      await fs.writeFile(metaFile, `${JSON.stringify({ base: options.baseDisk })}\n`);
    }
    return { overlay, release: () => lock.release() };
  } catch (error) {
    await lock.release();
    throw error;
  }
}
