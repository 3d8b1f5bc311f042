import type { CpuQuota } from './quantities.js';

/**
 * A container run, resolved and validated: what the runtime needs and nothing the CLI
 * knows. The in-box runtime receives the same object as JSON, so every field is plain data.
 */
export interface ContainerSpec {
  /**
   * The root tree: a directory used as the read-only lower layer, read-only layers stacked
   * (top first: an earlier run's saved upper layer over the tree it ran on), or a .tar.xz
   * unpacked first.
   */
  root: { kind: 'dir'; path: string } | { kind: 'layers'; paths: string[] } | { kind: 'image'; path: string };
  /** The command and its arguments; argv[0] becomes PID 1 of the container. */
  argv: string[];
  limits: ResourceLimits;
  /** "box": the network namespace kiwi runs in (host or box); "none": a new one with loopback only. */
  network: 'box' | 'none';
  hostname: string;
  binds: BindMount[];
  /** Where to save the merged root after a successful run (unless exportArgv takes it), if anywhere. */
  commitDir?: string;
  /** Save it after a failed run too (to debug what the command left). */
  commitOnFailure?: boolean;
  /**
   * After a successful run, move the run's upper layer (its changes, whiteouts included)
   * to this new directory, to be a lower layer of later runs. It must be on the run state
   * directory's filesystem: a rename, not a copy.
   */
  saveUpperDir?: string;
  /**
   * Instead of a copy: after a successful run, this command runs on the host (or box) in
   * the merged root's directory, mounted read-only in a mount namespace of its own, e.g.
   * to archive the tree without first copying it. $KIWI_EXPORT_UPPER names the run's upper
   * layer (the entries the run changed; whiteouts too).
   */
  exportArgv?: string[];
  /** Working directory inside the container. */
  workdir: string;
}

/** cgroup limits; an absent field means no limit. */
export interface ResourceLimits {
  /** memory.max, in bytes. */
  memoryBytes?: number;
  /** memory.swap.max, in bytes (swap on top of memory). */
  swapBytes?: number;
  /** cpu.max. */
  cpu?: CpuQuota;
  /** pids.max, in processes. */
  pids?: number;
  /** cpuset.cpus, a CPU list such as "0-1". */
  cpuset?: string;
}

/** A host path made visible inside the container. */
export interface BindMount {
  /** Absolute path on the host (or in the box). */
  source: string;
  /** Absolute path inside the container. */
  target: string;
  readOnly: boolean;
}

/** Whether any cgroup limit was asked for (without one, a missing cgroup only loses accounting). */
export function hasLimits(limits: ResourceLimits): boolean {
  return Object.values(limits).some((value) => value !== undefined);
}
