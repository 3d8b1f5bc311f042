import fs from 'node:fs';
import path from 'node:path';
import { EnvironmentError } from '../common/errors.js';
import type { ContainerUsage } from '../protocol/events.js';
import type { CgroupRequest, CgroupUnavailable, ContainerCgroup } from './cgroup.js';
import { canCreateIn, cgroupPids, readCgroupFile, writeCgroupFile } from './cgroup-dirs.js';
import { parseKeyedFile, v2Controllers, v2LimitWrites } from './cgroup-files.js';
import type { CgroupMounts } from './cgroup-mounts.js';
import type { ResourceLimits } from './spec.js';

/**
 * The container's cgroup on the unified (v2) hierarchy. As root it lives under
 * <mount>/kiwi/<id>, beside whatever else runs on the machine; rootless it can only live
 * below a cgroup delegated to the user (systemd's Delegate=yes), where kiwi first moves
 * itself into a leaf because v2 forbids processes in a cgroup that hands controllers down.
 */

/** Why v2 cannot be used with these limits, or undefined when it can. */
export function v2Unavailable(mounts: CgroupMounts, limits: ResourceLimits): string | undefined {
  if (!mounts.unified) return 'cgroup2 is not mounted';
  const available = (readCgroupFile(mounts.unified, 'cgroup.controllers') ?? '').trim().split(/\s+/);
  const missing = v2Controllers(limits).filter((controller) => !available.includes(controller));
  if (missing.length > 0) return `controller ${missing.join(', ')} not on the cgroup2 hierarchy (bound to v1 on this host)`;
  return undefined;
}

export function createV2Cgroup(request: CgroupRequest & { mountPoint: string; ownPath: string }): ContainerCgroup | CgroupUnavailable {
  const { reporter, limits } = request;
  const controllers = v2Controllers(limits);
  let parent: string;
  if (request.rootless) {
    const delegated = prepareDelegated(path.join(request.mountPoint, request.ownPath), controllers, request);
    if (typeof delegated !== 'string') return delegated;
    parent = delegated;
  } else {
    // The box init makes this same cgroup at boot to hold the kernel's cgroup static keys
    // on (boxes/debian/files/usr/lib/kiwi/box-init): a rename must change both.
    parent = path.join(request.mountPoint, 'kiwi');
    fs.mkdirSync(parent, { recursive: true });
    enableControllers(request.mountPoint, controllers, request);
    enableControllers(parent, controllers, request);
  }
  const dir = path.join(parent, request.id);
  reporter.debug(`cgroup mkdir ${dir}`, 'cgroup');
  fs.mkdirSync(dir);
  try {
    for (const write of v2LimitWrites(limits)) writeCgroupFile(dir, write.file, write.value, reporter);
  } catch (error) {
    fs.rmdirSync(dir);
    throw new EnvironmentError(`cannot set a cgroup limit in ${dir}: ${(error as Error).message}`, { cause: error });
  }
  return new V2Cgroup(dir);
}

function enableControllers(dir: string, controllers: string[], request: CgroupRequest): void {
  const enabled = (readCgroupFile(dir, 'cgroup.subtree_control') ?? '').trim().split(/\s+/);
  const wanted = controllers.filter((controller) => !enabled.includes(controller));
  if (wanted.length > 0) writeCgroupFile(dir, 'cgroup.subtree_control', wanted.map((c) => `+${c}`).join(' '), request.reporter);
}

/** Makes the user's own delegated cgroup able to hold a child with controllers; returns it. */
function prepareDelegated(own: string, controllers: string[], request: CgroupRequest): string | CgroupUnavailable {
  const hint = 'run under systemd-run --user --scope -p Delegate=yes, or as root';
  if (!canCreateIn(own)) return { unavailable: `the cgroup ${own} this process runs in is not delegated to this user`, hint };
  const available = (readCgroupFile(own, 'cgroup.controllers') ?? '').trim().split(/\s+/);
  const missing = controllers.filter((controller) => !available.includes(controller));
  if (missing.length > 0) return { unavailable: `controller ${missing.join(', ')} not delegated to ${own}`, hint };
  try {
    if (cgroupPids(own).length > 0) {
      const leaf = path.join(own, 'kiwi-host');
      fs.mkdirSync(leaf, { recursive: true });
      for (const pid of cgroupPids(own)) writeCgroupFile(leaf, 'cgroup.procs', String(pid), request.reporter);
    }
    enableControllers(own, controllers, request);
  } catch (error) {
    return { unavailable: `cannot hand controllers down in ${own}: ${(error as Error).message}`, hint };
  }
  return own;
}

class V2Cgroup implements ContainerCgroup {
  readonly description: string;
  readonly dirs: string[];
  readonly procsFiles: string[];
  private peak = 0;

  constructor(private readonly dir: string) {
    this.description = `cgroup v2 ${dir}`;
    this.dirs = [dir];
    this.procsFiles = [path.join(dir, 'cgroup.procs')];
  }

  sample(): void {
    const current = Number(readCgroupFile(this.dir, 'memory.current') ?? 0);
    if (current > this.peak) this.peak = current;
  }

  readUsage(): ContainerUsage {
    // memory.peak exists from Linux 5.19; before that the sampled maximum is the best there is.
    const peakText = readCgroupFile(this.dir, 'memory.peak');
    const cpu = parseKeyedFile(readCgroupFile(this.dir, 'cpu.stat') ?? '');
    return {
      memoryPeakBytes: peakText !== undefined ? Number(peakText) : this.peak || null,
      cpuUsec: cpu.usage_usec ?? null,
      cpuUserUsec: cpu.user_usec ?? null,
      cpuSystemUsec: cpu.system_usec ?? null,
      oomKills: parseKeyedFile(readCgroupFile(this.dir, 'memory.events') ?? '').oom_kill ?? 0,
      pidsLimitHits: parseKeyedFile(readCgroupFile(this.dir, 'pids.events') ?? '').max ?? 0,
    };
  }
}
