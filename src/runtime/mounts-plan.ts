import type { BindMount } from './spec.js';

/**
 * What the container sees, as a list of mounts made in order inside its mount namespace,
 * on top of the overlay's merged tree. Pure: the plan is data, mountArgs turns it into
 * bubblewrap's arguments, and --debug prints it.
 */
export type MountEntry =
  /** A host path bound at `target` (bwrap binds nodev; --dev provides the device nodes). */
  | { kind: 'bind'; source: string; target: string; readOnly: boolean; optional?: boolean }
  /** A fresh minimal /dev: null zero full random urandom tty, a private devpts, shm. */
  | { kind: 'dev'; target: string }
  /** A procfs of the container's PID namespace. */
  | { kind: 'proc'; target: string }
  | { kind: 'tmpfs'; target: string; /** Octal mode of the mount's root, e.g. 0o1777. */ mode: number };

export interface MountPlanInput {
  /** The overlay's merged directory: becomes the container's /. */
  merged: string;
  binds: BindMount[];
  /** The host's (or box's) resolver configuration, bound read-only. */
  resolvConf: string;
}

export function planMounts(input: MountPlanInput): MountEntry[] {
  return [
    { kind: 'bind', source: input.merged, target: '/', readOnly: false },
    { kind: 'dev', target: '/dev' },
    { kind: 'proc', target: '/proc' },
    // A fresh sysfs cannot be mounted without owning the network namespace's user
    // namespace; a read-only view of the host's is what bwrap and podman --rootless do.
    { kind: 'bind', source: '/sys', target: '/sys', readOnly: true },
    // /tmp sticky and world-writable as on any system: apt's _apt user writes there.
    { kind: 'tmpfs', target: '/tmp', mode: 0o1777 },
    { kind: 'tmpfs', target: '/run', mode: 0o755 },
    // optional: a host without a resolv.conf (an offline box) still runs containers.
    { kind: 'bind', source: input.resolvConf, target: '/etc/resolv.conf', readOnly: true, optional: true },
    // The user's binds come last so they may cover anything above (e.g. a cache on /tmp).
    ...input.binds.map((bind): MountEntry => ({ kind: 'bind', source: bind.source, target: bind.target, readOnly: bind.readOnly })),
  ];
}

/** One line per mount for --debug, e.g. "mount tmpfs on /tmp". */
export function describeMount(entry: MountEntry): string {
  switch (entry.kind) {
    case 'bind':
      return `bind ${entry.source} on ${entry.target}${entry.readOnly ? ' (read-only)' : ''}${entry.optional ? ' (if present)' : ''}`;
    case 'dev':
      return `mount minimal dev (null zero full random urandom tty, devpts, shm) on ${entry.target}`;
    case 'proc':
      return `mount proc on ${entry.target}`;
    case 'tmpfs':
      return `mount tmpfs on ${entry.target}`;
  }
}

/** bwrap's arguments for the plan, in order. */
export function mountArgs(plan: MountEntry[]): string[] {
  return plan.flatMap((entry): string[] => {
    switch (entry.kind) {
      case 'bind': {
        const flag = entry.readOnly ? '--ro-bind' : '--bind';
        return [entry.optional ? `${flag}-try` : flag, entry.source, entry.target];
      }
      case 'dev':
        return ['--dev', entry.target];
      case 'proc':
        return ['--proc', entry.target];
      case 'tmpfs':
        return ['--perms', entry.mode.toString(8).padStart(4, '0'), '--tmpfs', entry.target];
    }
  });
}
