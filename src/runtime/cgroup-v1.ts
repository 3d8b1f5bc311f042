import fs from 'node:fs';
import path from 'node:path';
import { EnvironmentError } from '../common/errors.js';
import type { ContainerUsage } from '../protocol/events.js';
import type { CgroupRequest, ContainerCgroup } from './cgroup.js';
import { readCgroupFile, removeCgroups, writeCgroupFile } from './cgroup-dirs.js';
import { parseKeyedFile, USER_HZ, V1_CONTROLLERS, v1LimitWrites } from './cgroup-files.js';

/**
 * The container's cgroups on v1 hierarchies: one directory <mount>/kiwi/<id> per
 * controller (memory, pids, cpu, cpuacct, cpuset). Hybrid hosts, this repository's CI
 * host among them, keep these controllers on v1 and they cannot be moved to cgroup2
 * while any v1 cgroup exists, so the runtime speaks both.
 */
export function createV1Cgroup(request: CgroupRequest & { mounts: Record<string, string> }): ContainerCgroup {
  const { reporter, limits } = request;
  const missing = V1_CONTROLLERS.filter((controller) => !request.mounts[controller]);
  if (missing.length > 0) {
    throw new EnvironmentError(`cgroup v1 controller ${missing.join(', ')} is not mounted`, {
      hint: 'mount the missing controllers under /sys/fs/cgroup, or use a host with cgroup v2',
    });
  }
  const dirs = new Map<string, string>();
  for (const controller of V1_CONTROLLERS) dirs.set(controller, path.join(request.mounts[controller]!, 'kiwi', request.id));
  const created: string[] = [];
  try {
    initCpusetParent(path.dirname(dirs.get('cpuset')!), request);
    for (const dir of new Set(dirs.values())) {
      reporter.debug(`cgroup mkdir ${dir}`, 'cgroup');
      fs.mkdirSync(dir, { recursive: true });
      created.push(dir);
    }
    const parentCpuset = {
      cpus: (readCgroupFile(path.dirname(dirs.get('cpuset')!), 'cpuset.cpus') ?? '').trim(),
      mems: (readCgroupFile(path.dirname(dirs.get('cpuset')!), 'cpuset.mems') ?? '').trim(),
    };
    for (const write of v1LimitWrites(limits, parentCpuset)) writeCgroupFile(dirs.get(write.controller)!, write.file, write.value, reporter);
  } catch (error) {
    void removeCgroups(created, 0);
    throw new EnvironmentError(`cannot set up the container's cgroups: ${(error as Error).message}`, { cause: error });
  }
  return new V1Cgroup(dirs);
}

/** A new v1 cpuset cgroup has no CPUs and no memory nodes: copy them from the root. */
function initCpusetParent(parent: string, request: CgroupRequest): void {
  fs.mkdirSync(parent, { recursive: true });
  for (const file of ['cpuset.cpus', 'cpuset.mems']) {
    if ((readCgroupFile(parent, file) ?? '').trim() === '') {
      writeCgroupFile(parent, file, (readCgroupFile(path.dirname(parent), file) ?? '').trim(), request.reporter);
    }
  }
}

class V1Cgroup implements ContainerCgroup {
  readonly description: string;
  readonly dirs: string[];
  readonly procsFiles: string[];

  constructor(private readonly byController: Map<string, string>) {
    this.dirs = [...new Set(byController.values())];
    this.procsFiles = this.dirs.map((dir) => path.join(dir, 'cgroup.procs'));
    this.description = `cgroup v1 (${V1_CONTROLLERS.join(', ')}) kiwi/${path.basename(this.dirs[0]!)}`;
  }

  /** v1 keeps its own maximum (memory.max_usage_in_bytes): nothing to sample. */
  sample(): void {}

  readUsage(): ContainerUsage {
    const memory = this.byController.get('memory')!;
    const cpuacct = this.byController.get('cpuacct')!;
    const usageNs = readCgroupFile(cpuacct, 'cpuacct.usage');
    const ticks = parseKeyedFile(readCgroupFile(cpuacct, 'cpuacct.stat') ?? '');
    const toUsec = (value: number | undefined): number | null => (value === undefined ? null : Math.round((value * 1e6) / USER_HZ));
    return {
      memoryPeakBytes: numberOrNull(readCgroupFile(memory, 'memory.max_usage_in_bytes')),
      cpuUsec: usageNs === undefined ? null : Math.round(Number(usageNs) / 1000),
      cpuUserUsec: toUsec(ticks.user),
      cpuSystemUsec: toUsec(ticks.system),
      // memory.oom_control has counted kills since Linux 4.13.
      oomKills: parseKeyedFile(readCgroupFile(memory, 'memory.oom_control') ?? '').oom_kill ?? 0,
      pidsLimitHits: parseKeyedFile(readCgroupFile(this.byController.get('pids')!, 'pids.events') ?? '').max ?? 0,
    };
  }
}

function numberOrNull(text: string | undefined): number | null {
  return text === undefined || text.trim() === '' ? null : Number(text);
}
