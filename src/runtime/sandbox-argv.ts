import { mountArgs, type MountEntry } from './mounts-plan.js';

/**
 * The command line that makes a container, as a pure function of its plan. Three programs
 * exec into each other, so the container's PID 1 is a grandchild of nobody but kiwi:
 *
 *   sh (join the cgroup: write own pid to cgroup.procs)
 *   → unshare --mount (+ --user when rootless): a private mount namespace holding the
 *     overlay, so no mount of the container ever exists in kiwi's namespace and all of
 *     them vanish with the last process, even after a SIGKILL
 *   → sh (mount the overlay) → bwrap: PID/UTS/IPC(/net) namespaces, pivot_root into
 *     the merged tree, /dev, proc, sys, tmpfs, binds; --as-pid-1 makes CMD itself PID 1,
 *     --die-with-parent kills it when kiwi dies.
 *
 * The scripts take every path as a positional argument, never spliced into their text.
 */
export interface OverlayLayers {
  /** Read-only lower layers as overlayfs' lowerdir takes them: the root tree, or several joined by ':' (top first). */
  lower: string;
  /** Writable upper layer in the run's state dir. */
  upper: string;
  /** overlayfs' work dir: same filesystem as upper. */
  work: string;
  /** Where the merged tree is mounted (inside the private namespace only). */
  merged: string;
}

export interface SandboxPlan {
  /** Rootless: a user namespace maps the invoking user to root inside. */
  userns: boolean;
  /** cgroup.procs files to join before any namespace exists (empty: no cgroup). */
  cgroupProcs: string[];
  overlay: OverlayLayers;
  mounts: MountEntry[];
  hostname: string;
  network: 'box' | 'none';
  workdir: string;
  env: Record<string, string>;
  argv: string[];
  /** File descriptor bwrap writes its JSON status (child pid, exit code) to. */
  statusFd: number;
}

/** Writes $$ to each cgroup.procs file up to "--", then execs the rest. */
export const JOIN_CGROUPS_SCRIPT = 'for f do shift; [ "$f" = -- ] && break; echo $$ > "$f" || exit 125; done; exec "$@"';

/** Mounts the overlay ($1 options, $2 target), then execs the rest. */
export const MOUNT_OVERLAY_SCRIPT = 'mount -t overlay kiwi -o "$1" "$2" || exit 125; shift 2; exec "$@"';

/**
 * Mounts the overlay ($1 options, $2 target) and copies the merged tree to $3, with owners
 * where $3 can hold them. It cannot when $3 is on a box share of a user without root (QEMU,
 * running as that user, refuses every chown): there the copy belongs to that user.
 */
export const COMMIT_SCRIPT =
  'mount -t overlay kiwi -o "$1" "$2" || exit 125; owners=; chown 0:0 "$3" 2>/dev/null || owners=--no-preserve=ownership; cp -a $owners "$2/." "$3/"';

/**
 * Mounts the overlay read-only ($1 options, $2 target), then execs the rest in it with
 * KIWI_EXPORT_UPPER naming the run's upper layer ($3): what the run changed.
 */
export const EXPORT_SCRIPT = 'mount -t overlay kiwi -o "ro,$1" "$2" || exit 125; cd "$2" || exit 125; KIWI_EXPORT_UPPER=$3; export KIWI_EXPORT_UPPER; shift 3; exec "$@"';

/** overlayfs options; in a user namespace, xattrs must be user.* ("userxattr") to be settable. */
export function overlayOptions(layers: OverlayLayers, userns: boolean): string {
  const options = [`lowerdir=${layers.lower}`, `upperdir=${layers.upper}`, `workdir=${layers.work}`];
  return (userns ? ['userxattr', ...options] : options).join(',');
}

/** unshare's arguments for a private mount namespace (and a user namespace when rootless). */
export function unshareArgs(userns: boolean): string[] {
  return ['unshare', ...(userns ? ['--user', '--map-root-user'] : []), '--mount', '--propagation', 'private', '--'];
}

export function bwrapArgs(plan: SandboxPlan): string[] {
  return [
    'bwrap',
    ...mountArgs(plan.mounts),
    '--unshare-pid',
    '--unshare-uts',
    '--unshare-ipc',
    ...(plan.network === 'none' ? ['--unshare-net'] : []),
    '--hostname',
    plan.hostname,
    '--chdir',
    plan.workdir,
    '--clearenv',
    ...Object.entries(plan.env).flatMap(([name, value]) => ['--setenv', name, value]),
    '--as-pid-1',
    '--die-with-parent',
    '--json-status-fd',
    String(plan.statusFd),
    '--',
    ...plan.argv,
  ];
}

/** The whole chain as [file, ...args] for execa. */
export function buildSandboxArgv(plan: SandboxPlan): string[] {
  const inner = ['sh', '-c', MOUNT_OVERLAY_SCRIPT, 'kiwi-mount', overlayOptions(plan.overlay, plan.userns), plan.overlay.merged, ...bwrapArgs(plan)];
  const unshared = [...unshareArgs(plan.userns), ...inner];
  if (plan.cgroupProcs.length === 0) return unshared;
  return ['sh', '-c', JOIN_CGROUPS_SCRIPT, 'kiwi-join', ...plan.cgroupProcs, '--', ...unshared];
}

/** The commit chain: remount the layers privately and copy the merged tree to `dest`. */
export function buildCommitArgv(overlay: OverlayLayers, userns: boolean, dest: string): string[] {
  return [...unshareArgs(userns), 'sh', '-c', COMMIT_SCRIPT, 'kiwi-commit', overlayOptions(overlay, userns), overlay.merged, dest];
}

/** The export chain: remount the layers privately, read-only, and run `argv` in the merged tree. */
export function buildExportArgv(overlay: OverlayLayers, userns: boolean, argv: readonly string[]): string[] {
  return [...unshareArgs(userns), 'sh', '-c', EXPORT_SCRIPT, 'kiwi-export', overlayOptions(overlay, userns), overlay.merged, overlay.upper, ...argv];
}

/** The namespaces a plan creates, for --debug. */
export function describeNamespaces(plan: SandboxPlan): string[] {
  return [
    ...(plan.userns ? ['user namespace: invoking user mapped to root (unshare --user --map-root-user)'] : []),
    'mount namespace, propagation private (unshare --mount --propagation private)',
    'pid, uts, ipc namespaces (bwrap --unshare-pid --unshare-uts --unshare-ipc)',
    plan.network === 'none' ? 'network namespace with loopback only (bwrap --unshare-net)' : 'network: shared with kiwi',
    `hostname ${plan.hostname}`,
    'pivot_root into the merged overlay (bwrap)',
  ];
}
