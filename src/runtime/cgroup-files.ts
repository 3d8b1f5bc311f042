import type { ResourceLimits } from './spec.js';

/**
 * What to write into which cgroup file for a set of limits, and how to read the
 * accounting files back. Pure; cgroup.ts does the I/O. Two layouts exist:
 * v2 (one unified hierarchy, e.g. systemd hosts and the box) and v1 (one hierarchy
 * per controller, still found on hybrid hosts where the v1 controllers cannot move).
 */
export interface CgroupWrite {
  /** v1: the controller whose hierarchy holds the file; v2: always "unified". */
  controller: string;
  file: string;
  value: string;
}

/** Controllers kiwi uses: accounting needs memory, cpu, pids even without limits. */
export function v2Controllers(limits: ResourceLimits): string[] {
  return ['memory', 'pids', 'cpu', ...(limits.cpuset !== undefined ? ['cpuset'] : [])];
}

export function v2LimitWrites(limits: ResourceLimits): CgroupWrite[] {
  const writes: CgroupWrite[] = [];
  const add = (file: string, value: string): void => void writes.push({ controller: 'unified', file, value });
  if (limits.cpuset !== undefined) add('cpuset.cpus', limits.cpuset);
  if (limits.memoryBytes !== undefined) add('memory.max', String(limits.memoryBytes));
  if (limits.swapBytes !== undefined) add('memory.swap.max', String(limits.swapBytes));
  if (limits.cpu) add('cpu.max', `${limits.cpu.quotaUsec} ${limits.cpu.periodUsec}`);
  if (limits.pids !== undefined) add('pids.max', String(limits.pids));
  return writes;
}

/** The v1 controllers kiwi puts a container in (cpuacct may share a hierarchy with cpu). */
export const V1_CONTROLLERS = ['memory', 'pids', 'cpu', 'cpuacct', 'cpuset'] as const;

/**
 * v1 writes. Differences from v2 that matter: memsw limits memory + swap together and
 * must not be below the memory limit (so memory goes first); a new cpuset cgroup starts
 * with no CPUs and no memory nodes and refuses tasks until both are set.
 */
export function v1LimitWrites(limits: ResourceLimits, parentCpuset: { cpus: string; mems: string }): CgroupWrite[] {
  const writes: CgroupWrite[] = [
    { controller: 'cpuset', file: 'cpuset.cpus', value: limits.cpuset ?? parentCpuset.cpus },
    { controller: 'cpuset', file: 'cpuset.mems', value: parentCpuset.mems },
  ];
  if (limits.memoryBytes !== undefined) {
    writes.push({ controller: 'memory', file: 'memory.limit_in_bytes', value: String(limits.memoryBytes) });
    if (limits.swapBytes !== undefined) {
      writes.push({ controller: 'memory', file: 'memory.memsw.limit_in_bytes', value: String(limits.memoryBytes + limits.swapBytes) });
    }
  }
  if (limits.cpu) {
    writes.push({ controller: 'cpu', file: 'cpu.cfs_period_us', value: String(limits.cpu.periodUsec) });
    writes.push({ controller: 'cpu', file: 'cpu.cfs_quota_us', value: String(limits.cpu.quotaUsec) });
  }
  if (limits.pids !== undefined) writes.push({ controller: 'pids', file: 'pids.max', value: String(limits.pids) });
  return writes;
}

/** "key value" lines (cpu.stat, memory.events, pids.events, memory.oom_control) → numbers. */
export function parseKeyedFile(text: string): Record<string, number> {
  const values: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && /^\d+$/.test(value)) values[key] = Number(value);
  }
  return values;
}

/** USER_HZ: the tick cpuacct.stat counts in on every Linux architecture kiwi runs on. */
export const USER_HZ = 100;
