import type { ContainerUsage } from '../protocol/events.js';
import { readCgroupMounts, readProcessCgroups } from './cgroup-mounts.js';
import { createV1Cgroup } from './cgroup-v1.js';
import { createV2Cgroup, v2Unavailable } from './cgroup-v2.js';
import type { Reporter } from './reporter.js';
import type { ResourceLimits } from './spec.js';

/**
 * A container's cgroup, whatever the hierarchy looks like: limits written, processes
 * joined through its cgroup.procs files, usage read back, removed at the end.
 */
export interface ContainerCgroup {
  /** "cgroup v2 /sys/fs/cgroup/kiwi/<id>" or "cgroup v1 (memory, pids, ...)". */
  description: string;
  /** Every directory created, for removal and for the run's state file. */
  dirs: string[];
  /** The cgroup.procs files a process writes its pid into to join. */
  procsFiles: string[];
  /** Called while the command runs, for hierarchies that keep no peak themselves. */
  sample(): void;
  readUsage(): ContainerUsage;
}

/** Why a run has no cgroup; the caller fails if limits were asked for, else warns. */
export interface CgroupUnavailable {
  unavailable: string;
  hint: string;
}

export interface CgroupRequest {
  id: string;
  limits: ResourceLimits;
  /** Rootless: only a cgroup delegated to this user can be used. */
  rootless: boolean;
  reporter: Reporter;
}

/**
 * Creates the container's cgroup: v2 when the unified hierarchy has the controllers
 * (the box, systemd hosts), else v1 per-controller hierarchies (hybrid hosts).
 */
export function createCgroup(request: CgroupRequest): ContainerCgroup | CgroupUnavailable {
  const mounts = readCgroupMounts();
  const own = readProcessCgroups();
  request.reporter.debug(`cgroup hierarchies: v2 ${mounts.unified ?? 'not mounted'}, v1 ${Object.keys(mounts.v1).join(' ') || 'none'}`, 'cgroup');
  const v2Problem = v2Unavailable(mounts, request.limits);
  if (!v2Problem) return createV2Cgroup({ ...request, mountPoint: mounts.unified!, ownPath: own.unified ?? '/' });
  request.reporter.debug(`not using cgroup v2: ${v2Problem}`, 'cgroup');
  if (Object.keys(mounts.v1).length === 0) {
    return { unavailable: `no usable cgroup hierarchy (${v2Problem})`, hint: 'mount cgroup2 on /sys/fs/cgroup' };
  }
  if (request.rootless) {
    return {
      unavailable: 'this host runs the memory, cpu and pids controllers on cgroup v1, which is never delegated to unprivileged users',
      hint: 'run kiwi run as root, or on a host with cgroup v2 under systemd-run --user --scope -p Delegate=yes',
    };
  }
  return createV1Cgroup({ ...request, mounts: mounts.v1 });
}

export function isCgroup(value: ContainerCgroup | CgroupUnavailable): value is ContainerCgroup {
  return !('unavailable' in value);
}
