import fs from 'node:fs';
import path from 'node:path';
import { isErrno } from '../common/errors.js';
import { isAlive } from '../common/process-identity.js';
import { killCgroups, removeCgroups } from './cgroup-dirs.js';
import type { Reporter } from './reporter.js';
import { readRunState, runDirs, type RunState } from './state-dir.js';

/**
 * Removing what a run left: its processes, its cgroups, its layers, its state file — in
 * that order, because a cgroup with processes cannot be removed and the state file is the
 * only record of the cgroups. The same code ends a run normally and cleans a stale one.
 * Mounts need nothing: they exist only in the run's private mount namespace, which the
 * kernel drops with its last process.
 */
export async function teardownRun(root: string, state: RunState, reporter: Reporter): Promise<string[]> {
  const dirs = runDirs(root, state.id);
  const problems: string[] = [];
  if (state.containerPid && isAlive(state.containerPid)) {
    const pid = Number(state.containerPid.split('-')[0]);
    reporter.debug(`kill container pid ${pid}`, 'teardown');
    try {
      process.kill(pid, 'SIGKILL');
    } catch (error) {
      if (!isErrno(error, 'ESRCH')) problems.push(`kill ${pid}: ${(error as Error).message}`);
    }
  }
  if (state.cgroupDirs.length > 0) {
    if (!(await killCgroups(state.cgroupDirs))) problems.push(`processes still in ${state.cgroupDirs.join(', ')}`);
    for (const dir of await removeCgroups(state.cgroupDirs)) problems.push(`cgroup ${dir} not removed`);
    reporter.debug(`cgroup removed ${state.cgroupDirs.join(' ')}`, 'teardown');
  }
  try {
    removeTree(dirs.dir);
    fs.rmSync(dirs.stateFile, { force: true });
    reporter.debug(`removed ${dirs.dir}`, 'teardown');
  } catch (error) {
    problems.push(`${dirs.dir}: ${(error as Error).message}`);
  }
  return problems;
}

/**
 * rm -rf that also works for a rootless run: overlayfs leaves work/work with mode 000, and
 * directories a container made read-only would stop the removal, so permissions are
 * opened (the user owns everything a rootless container wrote) and removal retried.
 */
function removeTree(dir: string): void {
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch (error) {
    if (!isErrno(error, 'EACCES') && !isErrno(error, 'EPERM')) throw error;
    openPermissions(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function openPermissions(dir: string): void {
  fs.chmodSync(dir, 0o700);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) openPermissions(path.join(dir, entry.name));
  }
}

/**
 * Cleans every run in `root` whose owner is gone (killed, crashed, machine rebooted).
 * Runs at the start of each `kiwi run`, so a killed run never blocks the next one.
 */
export async function cleanStaleRuns(root: string, reporter: Reporter): Promise<number> {
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return 0;
    throw error;
  }
  // A directory without a state file is what an interrupted cleanup leaves: its state went last.
  // The state file is looked for on disk, not in `names`: a run that another process started
  // while this one read the directory wrote its state before its directory, but a listing
  // taken meanwhile (ext4 lists in hash order) may hold the directory and miss the file.
  const orphans = names.filter((entry) => /^[0-9a-f]{12}$/.test(entry) && !fs.existsSync(runDirs(root, entry).stateFile));
  let cleaned = 0;
  for (const name of names.filter((entry) => entry.endsWith('.json'))) {
    const state = readRunState(path.join(root, name));
    if (state && isAlive(state.owner)) continue;
    const id = name.slice(0, -'.json'.length);
    reporter.info(`cleaning stale run ${id} (owner ${state?.owner ?? 'unknown'} is gone)`, 'cleanup');
    const problems = await teardownRun(root, state ?? { id, owner: '', userns: false, cgroupDirs: [], startedAt: '' }, reporter);
    for (const problem of problems) reporter.warn(`stale run ${id}: ${problem}`, 'cleanup');
    cleaned += 1;
  }
  for (const name of orphans) {
    reporter.info(`removing orphaned run directory ${name}`, 'cleanup');
    removeTree(path.join(root, name));
    cleaned += 1;
  }
  return cleaned;
}
