import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EnvironmentError } from '../common/errors.js';
import { processIdentity } from '../common/process-identity.js';

/**
 * Per-run state on disk, so that a run killed with SIGKILL can be cleaned by the next one.
 *
 *   <root>/<id>.json   RunState: owner process, cgroup dirs, container pid. Written
 *                      first (atomically), so a live run's directory always has an owner.
 *   <root>/<id>/       upper/ work/ merged/ [lower/ for --image]: the overlay's layers.
 *
 * <root> is $KIWI_STATE_DIR, else /var/lib/kiwi/containers as root (on disk: the upper
 * layer of a build can be large, and /run is often RAM), else a private directory of the
 * invoking user (see defaultStateRoot).
 */
export interface RunState {
  id: string;
  /** processIdentity() of the kiwi process that owns the run. */
  owner: string;
  /** Rootless runs create files only the user namespace could remove easily. */
  userns: boolean;
  /** cgroup directories created for the run, to empty and remove. */
  cgroupDirs: string[];
  /** processIdentity() of the container's PID 1 on the host, once known. */
  containerPid?: string;
  /** ISO time the run started. */
  startedAt: string;
}

export interface RunDirs {
  root: string;
  stateFile: string;
  dir: string;
  upper: string;
  work: string;
  merged: string;
  lower: string;
}

export function runDirs(root: string, id: string): RunDirs {
  const dir = path.join(root, id);
  return {
    root,
    stateFile: path.join(root, `${id}.json`),
    dir,
    upper: path.join(dir, 'upper'),
    work: path.join(dir, 'work'),
    merged: path.join(dir, 'merged'),
    lower: path.join(dir, 'lower'),
  };
}

export function defaultStateRoot(env: NodeJS.ProcessEnv = process.env, uid: number = process.getuid?.() ?? 0): string {
  if (env.KIWI_STATE_DIR) return env.KIWI_STATE_DIR;
  if (uid === 0) return '/var/lib/kiwi/containers';
  if (env.XDG_STATE_HOME) return path.join(env.XDG_STATE_HOME, 'kiwi', 'containers');
  const home = env.HOME ?? os.homedir();
  if (home && isWritableDir(home)) return path.join(home, '.local', 'state', 'kiwi', 'containers');
  // Users without a home (nobody, CI users): /var/tmp is on disk and survives like a home would.
  return path.join('/var/tmp', `kiwi-${uid}`, 'containers');
}

function isWritableDir(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/** Creates the state root, refusing one that another user owns (a shared /var/tmp). */
export function ensureStateRoot(root: string): void {
  try {
    fs.mkdirSync(root, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new EnvironmentError(`cannot create the run state directory ${root}: ${(error as Error).message}`, {
      hint: 'set KIWI_STATE_DIR to a writable directory on a local disk',
      cause: error,
    });
  }
  const stat = fs.lstatSync(root);
  const uid = process.getuid?.() ?? 0;
  if (!stat.isDirectory() || stat.uid !== uid) {
    throw new EnvironmentError(`the run state directory ${root} is not a directory owned by uid ${uid}`, {
      hint: 'remove it or set KIWI_STATE_DIR to a directory of your own',
    });
  }
}

/** A new run: state file first, then its directory with empty layers. */
export function createRun(root: string, userns: boolean): { state: RunState; dirs: RunDirs } {
  ensureStateRoot(root);
  const id = randomBytes(6).toString('hex');
  const state: RunState = { id, owner: processIdentity()!, userns, cgroupDirs: [], startedAt: new Date().toISOString() };
  const dirs = runDirs(root, id);
  writeRunState(dirs, state);
  for (const sub of [dirs.upper, dirs.work, dirs.merged]) fs.mkdirSync(sub, { recursive: true, mode: 0o755 });
  return { state, dirs };
}

/** Rewrites the state file atomically (rename), so a reader never sees half of it. */
export function writeRunState(dirs: RunDirs, state: RunState): void {
  const temp = `${dirs.stateFile}.${process.pid}.tmp`;
  fs.writeFileSync(temp, `${JSON.stringify(state, null, 2)}\n`);
  fs.renameSync(temp, dirs.stateFile);
}

export function readRunState(file: string): RunState | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as RunState;
  } catch {
    // A state file cut short by a crash names nothing to clean but its run directory.
    return undefined;
  }
}
