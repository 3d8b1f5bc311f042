import { UsageError } from '../common/errors.js';

/**
 * Parsing of the resource options of `kiwi run` into the numbers cgroups take. Pure.
 * Sizes follow docker/podman: K, M, G, T are powers of 1024 (an optional "i", "B" or
 * "iB" is accepted), a bare number is bytes.
 */

const SIZE = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i;
const FACTORS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** "512M" → 536870912 bytes; "0" → 0. */
export function parseSize(text: string, option: string): number {
  const match = SIZE.exec(text.trim());
  if (!match) {
    throw new UsageError(`${option} ${text}: not a size`, { hint: `write a size like 512M, 2G or 1048576 (bytes)` });
  }
  const bytes = Math.floor(Number(match[1]) * FACTORS[match[2]!.toLowerCase()]!);
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`${option} ${text}: too large`);
  return bytes;
}

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
