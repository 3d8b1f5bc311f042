/**
 * /etc/fstab of a disk image. Pure.
 */

export interface FstabEntry {
  /** What to mount, e.g. UUID=... */
  spec: string;
  mountPoint: string;
  fsType: string;
  options: string;
  /** dump(8) flag. */
  dump: number;
  /** fsck order: 1 for /, 2 for the others, 0 never. */
  pass: number;
}

/** The disk's own file systems: the root, and the ESP at /boot/efi when there is one. */
export function diskFstabEntries(root: { uuid: string; fsType: string }, esp: { volumeId: string } | undefined): FstabEntry[] {
  const entries: FstabEntry[] = [{ spec: `UUID=${root.uuid}`, mountPoint: '/', fsType: root.fsType, options: 'defaults', dump: 0, pass: 1 }];
  // umask=0077: the ESP may hold secrets (boot keys); nobody but root reads it.
  if (esp) entries.push({ spec: `UUID=${esp.volumeId}`, mountPoint: '/boot/efi', fsType: 'vfat', options: 'umask=0077', dump: 0, pass: 2 });
  return entries;
}

/**
 * The image's fstab: the disk's entries first, then the entries the image already had
 * (from a package or the description's overlay) for other mount points. Comments of the
 * old file are dropped (Debian's base system ships only "# UNCONFIGURED FSTAB").
 */
export function renderFstab(entries: FstabEntry[], existing = ''): string {
  const taken = new Set(entries.map((entry) => entry.mountPoint));
  const kept = existing
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .filter((line) => !taken.has(line.split(/\s+/)[1] ?? ''));
  const lines = entries.map((entry) => [entry.spec, entry.mountPoint, entry.fsType, entry.options, entry.dump, entry.pass].join(' '));
  return `${['# Written by kiwi build for the disk image.', ...lines, ...kept].join('\n')}\n`;
}
