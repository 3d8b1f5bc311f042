import type { TaggedShare } from './share-types.js';

/**
 * 9p from the guest's side: Linux 6.1's virtio transport carries at most
 * (VIRTQUEUE_NUM - 3) pages = 125 × 4 KiB = 512000 bytes per message; a larger msize is cut
 * down with a kernel warning, a smaller one (the 8 KiB default) makes every large read and
 * write many round trips.
 */
export const NINEP_MSIZE = 512_000;

/**
 * QEMU's half of a 9p share.
 *
 * security_model=none: QEMU creates files with its own credentials (so with the invoking
 * user's: the box's root writes files the user owns, never root's) and keeps real modes,
 * real symlinks and sparse files on the host. mapped-xattr would store modes and owners in
 * xattrs and symlinks as regular files, so build outputs would look wrong on the host;
 * passthrough would chown files to guest uids, which needs root and leaves root-owned files.
 * The cost: owners set in the box are not kept. A new file's owner is QEMU's; an explicit
 * chown is refused (EPERM) unless QEMU runs as root. A share of descriptions and build
 * results does not need owners; `kiwi run --commit` copies without them there.
 *
 * multidevs=remap: a share that spans several host filesystems keeps unique inode numbers
 * in the guest (QEMU warns and may confuse `cp -a` and tar's hard-link detection otherwise).
 */
export function ninepQemuArgs(share: TaggedShare): string[] {
  const fsdev = [`local`, `id=fs-${share.tag}`, `path=${qemuOption(share.hostDir)}`, 'security_model=none', 'multidevs=remap'];
  if (share.readOnly) fsdev.push('readonly=on');
  return ['-fsdev', fsdev.join(','), '-device', `virtio-9p-pci,fsdev=fs-${share.tag},mount_tag=${share.tag}`];
}

/**
 * The guest's mount argv. cache=mmap: no page cache for data or metadata (the host sees
 * each write when it returns, and host-side changes show at once), but mmap works, which
 * builders (ld, dpkg, mksquashfs) rely on; msize as above.
 */
export function ninepMountArgv(share: TaggedShare): string[] {
  const options = ['trans=virtio', 'version=9p2000.L', `msize=${NINEP_MSIZE}`, 'cache=mmap', share.readOnly ? 'ro' : 'rw'];
  return ['mount', '-t', '9p', '-o', options.join(','), share.tag, share.guestDir];
}

/** QEMU's option syntax splits on ","; a literal comma is written ",,". */
export function qemuOption(value: string): string {
  return value.replaceAll(',', ',,');
}
