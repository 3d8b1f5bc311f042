import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isErrno } from '../common/errors.js';
import type { Reporter } from './reporter.js';

/**
 * File operations on cgroup directories that do not depend on the cgroup version: write a
 * control file (logged for --debug), empty a cgroup of its processes, remove it. The stale
 * cleanup uses these on the paths a dead run recorded.
 */

export function writeCgroupFile(dir: string, file: string, value: string, reporter?: Reporter): void {
  reporter?.debug(`cgroup write ${path.join(dir, file)} = ${value}`, 'cgroup');
  fs.writeFileSync(path.join(dir, file), value);
}

export function readCgroupFile(dir: string, file: string): string | undefined {
  try {
    return fs.readFileSync(path.join(dir, file), 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
}

/** Pids in a cgroup (empty if it is gone). */
export function cgroupPids(dir: string): number[] {
  const text = readCgroupFile(dir, 'cgroup.procs') ?? '';
  return text.split('\n').filter(Boolean).map(Number);
}

/**
 * SIGKILLs every process in the cgroups until they are empty, within `timeoutMs`. cgroup.kill
 * (v2, Linux 5.14) does it atomically; otherwise a fork racing the kill is caught by the
 * next round.
 */
export async function killCgroups(dirs: string[], timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let remaining = 0;
    for (const dir of dirs) {
      if (fs.existsSync(path.join(dir, 'cgroup.kill'))) {
        try {
          fs.writeFileSync(path.join(dir, 'cgroup.kill'), '1');
        } catch (error) {
          if (!isErrno(error, 'ENOENT')) throw error;
        }
      }
      for (const pid of cgroupPids(dir)) {
        remaining += 1;
        try {
          process.kill(pid, 'SIGKILL');
        } catch (error) {
          if (!isErrno(error, 'ESRCH')) throw error;
        }
      }
    }
    if (remaining === 0) return true;
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
}

/**
 * Removes cgroup directories, deepest first. A cgroup whose last process just died can
 * stay busy for a moment, so EBUSY is retried within `timeoutMs`.
 */
export async function removeCgroups(dirs: string[], timeoutMs = 5000): Promise<string[]> {
  const failed: string[] = [];
  const deadline = Date.now() + timeoutMs;
  for (const dir of [...dirs].sort((a, b) => b.length - a.length)) {
    for (;;) {
      try {
        fs.rmdirSync(dir);
        break;
      } catch (error) {
        if (isErrno(error, 'ENOENT')) break;
        if (isErrno(error, 'EBUSY') && Date.now() < deadline) {
          await sleep(50);
          continue;
        }
        failed.push(dir);
        break;
      }
    }
  }
  return failed;
}

/** Whether the directory exists and this process may create cgroups in it. */
export function canCreateIn(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
