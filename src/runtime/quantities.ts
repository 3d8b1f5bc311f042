import { UsageError } from '../common/errors.js';

/**
 * Parsing of the resource options of `kiwi run` into the numbers cgroups take. Pure.
 * Sizes: see parseSize in common/units.ts.
 */
export { parseSize } from '../common/units.js';

/** The kernel's CFS period kiwi uses for --cpus, in microseconds (the cgroup default). */
export const CPU_PERIOD_USEC = 100_000;

/** cpu.max for --cpus: quota per period in microseconds ("1.5" → 150000 per 100000). */
export interface CpuQuota {
  quotaUsec: number;
  periodUsec: number;
}

export function parseCpus(text: string): CpuQuota {
  const cpus = Number(text);
  if (!/^\d*\.?\d+$/.test(text.trim()) || !Number.isFinite(cpus) || cpus <= 0) {
    throw new UsageError(`--cpus ${text}: not a positive number of CPUs`, { hint: 'write e.g. --cpus 0.5 or --cpus 2' });
  }
  // The kernel refuses a quota below 1 ms.
  const quotaUsec = Math.round(cpus * CPU_PERIOD_USEC);
  if (quotaUsec < 1000) throw new UsageError(`--cpus ${text}: below the kernel's minimum of 0.01 CPU`);
  return { quotaUsec, periodUsec: CPU_PERIOD_USEC };
}

/** "0-2,4" style CPU list as cpuset.cpus takes it; checked against the CPUs that exist. */
export function parseCpuset(text: string, onlineCpus?: number[]): string {
  const list = text.trim();
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(list)) {
    throw new UsageError(`--cpuset ${text}: not a CPU list`, { hint: 'write CPU numbers and ranges, e.g. 0 or 0-1,3' });
  }
  const wanted = expandCpuList(list);
  const missing = onlineCpus ? wanted.filter((cpu) => !onlineCpus.includes(cpu)) : [];
  if (missing.length > 0) {
    throw new UsageError(`--cpuset ${text}: CPU ${missing.join(', ')} not online here`, {
      hint: `online CPUs: ${onlineCpus!.join(',')}`,
    });
  }
  return list;
}

/** "0-2,4" → [0, 1, 2, 4]. */
export function expandCpuList(list: string): number[] {
  const cpus: number[] = [];
  for (const part of list.trim().split(',').filter(Boolean)) {
    const [from, to] = part.split('-').map(Number) as [number, number | undefined];
    for (let cpu = from; cpu <= (to ?? from); cpu += 1) cpus.push(cpu);
  }
  return cpus;
}

export function parsePids(text: string): number {
  const pids = Number(text);
  if (!/^\d+$/.test(text.trim()) || pids < 1) {
    throw new UsageError(`--pids ${text}: not a positive number of processes`, { hint: 'write e.g. --pids 256' });
  }
  return pids;
}

/** The user's own spelling of a size for messages: 536870912 → "512M". */
export function formatLimit(bytes: number): string {
  for (const [unit, factor] of [['T', 1024 ** 4], ['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]] as const) {
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return `${bytes}B`;
}
