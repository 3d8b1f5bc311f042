import { qemuOption } from './ninep.js';
import type { TaggedShare } from './share-types.js';

/** Which virtiofsd: QEMU's C daemon (Debian 12: /usr/lib/qemu/virtiofsd) or the Rust one (/usr/libexec/virtiofsd). */
export type VirtiofsdFlavor = 'c' | 'rust';

/** Where each flavor is installed, in the order they are preferred: the Rust daemon is maintained, the C one was dropped in QEMU 8.0. */
export const VIRTIOFSD_CANDIDATES: readonly { path: string; flavor: VirtiofsdFlavor }[] = [
  { path: '/usr/libexec/virtiofsd', flavor: 'rust' },
  { path: '/usr/lib/qemu/virtiofsd', flavor: 'c' },
];

/** Everything one virtiofsd needs, resolved. */
export interface VirtiofsdSpec {
  binary: string;
  flavor: VirtiofsdFlavor;
  share: TaggedShare;
  /** vhost-user socket in the VM's own directory: two VMs never share one. */
  socket: string;
  /** kiwi runs as root: the daemon's namespace sandbox needs no user namespace. */
  root: boolean;
}

/**
 * The daemon's argv. cache=auto: the guest caches for a second and rereads after, and every
 * write reaches the host file before it returns (no writeback), so the host sees results.
 * sandbox=namespace: the daemon pivots into the shared directory, so a guest path cannot
 * name a host file outside it.
 *
 * Neither daemon here can refuse writes by itself (the C one has no read-only option), so a
 * read-only share runs the daemon in its own mount namespace where the directory is a
 * read-only bind mount: writes fail with EROFS on the host side whatever the guest mounts.
 * Without root, the same wrapper also maps the user to root in a user namespace, which the
 * sandbox needs; the box's root then writes files owned by the invoking user.
 */
export function virtiofsdCommand(spec: VirtiofsdSpec): { command: string; args: string[] } {
  const daemon =
    spec.flavor === 'rust'
      ? [spec.binary, '--socket-path', spec.socket, '--shared-dir', spec.share.hostDir, '--cache', 'auto', '--sandbox', 'namespace']
      : [spec.binary, `--socket-path=${spec.socket}`, '-o', `source=${spec.share.hostDir}`, '-o', 'cache=auto', '-o', 'sandbox=namespace'];
  if (!spec.share.readOnly && spec.root) return { command: daemon[0]!, args: daemon.slice(1) };
  const unshare = ['--mount', '--propagation', 'private', ...(spec.root ? [] : ['--user', '--map-root-user'])];
  // The script takes the directory and the daemon's argv as arguments: nothing is interpolated.
  const script = spec.share.readOnly ? 'mount --bind -o ro -- "$1" "$1" && shift && exec "$@"' : 'shift && exec "$@"';
  return { command: 'unshare', args: [...unshare, '--', 'sh', '-c', script, 'kiwi-virtiofsd', spec.share.hostDir, ...daemon] };
}

/** QEMU's half: the daemon's socket as a vhost-user-fs device (needs a shared memory backend, see qemu-args). */
export function virtiofsQemuArgs(share: TaggedShare, socket: string): string[] {
  return [
    '-chardev',
    `socket,id=vfs-${share.tag},path=${qemuOption(socket)}`,
    // A 1024-entry queue instead of 128 keeps more requests in flight for large files.
    '-device',
    `vhost-user-fs-pci,chardev=vfs-${share.tag},tag=${share.tag},queue-size=1024`,
  ];
}

export function virtiofsMountArgv(share: TaggedShare): string[] {
  return ['mount', '-t', 'virtiofs', '-o', share.readOnly ? 'ro' : 'rw', share.tag, share.guestDir];
}
