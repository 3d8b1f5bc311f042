import fs from 'node:fs';

/**
 * Where the cgroup hierarchies are mounted and where this process sits in them, read
 * from /proc/self/mountinfo and /proc/self/cgroup. Parsing is pure and tested on real
 * file contents of a v2 host and of this repository's hybrid CI host.
 */
export interface CgroupMounts {
  /** Mount point of the cgroup2 hierarchy, if mounted. */
  unified?: string;
  /** v1 controller name → mount point of its hierarchy. */
  v1: Record<string, string>;
}

export function parseCgroupMounts(mountinfo: string): CgroupMounts {
  const mounts: CgroupMounts = { v1: {} };
  for (const line of mountinfo.split('\n')) {
    const [before, after] = line.split(' - ');
    if (!before || !after) continue;
    const mountPoint = unescapeMountPath(before.split(' ')[4] ?? '');
    const [fsType, , superOptions = ''] = after.split(' ');
    if (fsType === 'cgroup2') {
      mounts.unified ??= mountPoint;
    } else if (fsType === 'cgroup') {
      for (const option of superOptions.split(',')) {
        if (KNOWN_V1.has(option)) mounts.v1[option] ??= mountPoint;
      }
    }
  }
  return mounts;
}

const KNOWN_V1 = new Set(['memory', 'pids', 'cpu', 'cpuacct', 'cpuset', 'blkio', 'devices', 'freezer']);

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMountPath(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_match, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

export interface ProcessCgroups {
  /** Path of this process in the v2 hierarchy ("0::/path"), if any. */
  unified?: string;
  /** v1 controller → path of this process in that hierarchy. */
  v1: Record<string, string>;
}

export function parseProcCgroup(text: string): ProcessCgroups {
  const result: ProcessCgroups = { v1: {} };
  for (const line of text.split('\n')) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!match) continue;
    const [, id, controllers, cgroupPath] = match as unknown as [string, string, string, string];
    if (id === '0' && controllers === '') result.unified = cgroupPath;
    for (const controller of controllers.split(',').filter(Boolean)) result.v1[controller] = cgroupPath;
  }
  return result;
}

export function readCgroupMounts(): CgroupMounts {
  return parseCgroupMounts(fs.readFileSync('/proc/self/mountinfo', 'utf8'));
}

export function readProcessCgroups(pid: number | 'self' = 'self'): ProcessCgroups {
  return parseProcCgroup(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
}
