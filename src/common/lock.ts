import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isErrno } from './errors.js';
import { isAlive, processIdentity } from './process-identity.js';

export interface LockOptions {
  /** Called once if another live process holds the lock, with its identity. */
  onWait?: (holder: string) => void;
  /** Poll interval while waiting, in ms. */
  pollMs?: number;
  signal?: AbortSignal;
}

export interface HeldLock {
  release(): Promise<void>;
}

/**
 * Takes the lock if it is free (or stale) right now; undefined if a live process holds it,
 * whose identity `onHeld` gets.
 */
export async function tryAcquireLock(file: string, onHeld?: (holder: string) => void): Promise<HeldLock | undefined> {
  const controller = new AbortController();
  const onWait = (holder: string): void => {
    onHeld?.(holder);
    controller.abort();
  };
  try {
    return await acquireLock(file, { onWait, signal: controller.signal });
  } catch (error) {
    if (controller.signal.aborted) return undefined;
    throw error;
  }
}

/**
 * An exclusive lock between processes: a file created with O_EXCL holding the owner's
 * identity. A lock whose owner died (kill -9, power loss) is broken by the next taker;
 * breaking goes through a second exclusive file so two takers never both break it.
 */
export async function acquireLock(file: string, options: LockOptions = {}): Promise<HeldLock> {
  const self = processIdentity();
  if (!self) throw new Error('cannot read /proc/self/stat');
  await fs.mkdir(path.dirname(file), { recursive: true });
  let announced = false;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      await fs.writeFile(file, self, { flag: 'wx' });
      return { release: () => releaseLock(file, self) };
    } catch (error) {
      if (!isErrno(error, 'EEXIST')) throw error;
    }
    const holder = await readHolder(file);
    if (holder !== undefined && (await isStale(file, holder))) {
      await breakStaleLock(file, holder);
      continue;
    }
    if (!announced && holder) {
      options.onWait?.(holder);
      announced = true;
    }
    await sleep(options.pollMs ?? 100, undefined, { signal: options.signal });
  }
}

/** The identity of the live process holding the lock; undefined if it is free or its holder died. Takes nothing. */
export function liveLockHolder(file: string): string | undefined {
  let holder: string;
  try {
    holder = readFileSync(file, 'utf8').trim();
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
  return holder && isAlive(holder) ? holder : undefined;
}

async function readHolder(file: string): Promise<string | undefined> {
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
}

/** An empty holder is a lock being written right now, unless it stayed empty for long. */
async function isStale(file: string, holder: string): Promise<boolean> {
  if (holder) return !isAlive(holder);
  const stat = await fs.stat(file).catch(() => undefined);
  return stat !== undefined && Date.now() - stat.mtimeMs > 5000;
}

async function breakStaleLock(file: string, holder: string): Promise<void> {
  const breaker = `${file}.break`;
  try {
    await fs.writeFile(breaker, processIdentity() ?? '', { flag: 'wx' });
  } catch (error) {
    if (!isErrno(error, 'EEXIST')) throw error;
    // Someone else is breaking it, or a breaker died mid-way: clear a dead breaker and retry later.
    const breakerHolder = await readHolder(breaker);
    if (breakerHolder !== undefined && (await isStale(breaker, breakerHolder))) await fs.rm(breaker, { force: true });
    return;
  }
  try {
    // Re-check under the breaker: the lock may have been released and retaken meanwhile.
    if ((await readHolder(file)) === holder) await fs.rm(file, { force: true });
  } finally {
    await fs.rm(breaker, { force: true });
  }
}

async function releaseLock(file: string, self: string): Promise<void> {
  if ((await readHolder(file)) === self) await fs.rm(file, { force: true });
}

/** Runs `work` holding the lock, waiting for it as acquireLock does; releases it however `work` ends. */
export async function withLock<T>(file: string, work: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const held = await acquireLock(file, options);
  try {
    return await work();
  } finally {
    await held.release();
  }
}

/** Runs `work` holding the lock if it is free now; undefined, without running it, if a live process holds it. */
export async function ifLockFree<T>(file: string, work: () => Promise<T>): Promise<T | undefined> {
  const held = await tryAcquireLock(file);
  if (!held) return undefined;
  try {
    return await work();
  } finally {
    await held.release();
  }
}
