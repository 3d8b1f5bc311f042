/**
 * argv of the programs that write file systems straight into a disk image file at a
 * partition's offset: no loop device, no mount, no copy of the partition (mke2fs
 * -E offset, mkfs.fat --offset, mtools' FILE@@OFFSET). Pure.
 */

export interface Ext4Spec {
  fsType: 'ext2' | 'ext3' | 'ext4';
  uuid: string;
  label: string;
  /** Size in bytes (a multiple of 4 KiB). */
  bytes: number;
  inodes: number;
  /** Byte offset of the partition in the image. */
  offset: number;
  /** The tree that becomes the file system's content (mke2fs -d). */
  rootDir: string;
}

/** mke2fs filling a file system at `offset` from `rootDir`: owners, modes, links, xattrs and device nodes as they are. */
export function mke2fsArgv(image: string, spec: Ext4Spec): string[] {
  return [
    'mke2fs',
    '-q',
    '-F',
    '-t',
    spec.fsType,
    // Fixed 4 KiB blocks: the size computation assumes them (mke2fs picks 1 KiB for small sizes).
    '-b',
    '4096',
    '-U',
    spec.uuid,
    '-L',
    spec.label,
    '-N',
    String(spec.inodes),
    // nodiscard: discarding would punch holes in the image file, the partition table included.
    '-E',
    `offset=${spec.offset},nodiscard`,
    '-d',
    spec.rootDir,
    image,
    `${spec.bytes / 1024}k`,
  ];
}

export interface FatSpec {
  /** Volume id, 8 hex digits (fstab's UUID=XXXX-XXXX). */
  volumeId: string;
  label: string;
  /** First sector and length in 512-byte sectors. */
  start: number;
  sectors: number;
}

/**
 * mkfs.fat writing a FAT16 file system at a partition's start sector. FAT16 named
 * explicitly: mkfs.fat would size the FAT by the whole image file, and a 20 MiB ESP has
 * too few clusters for FAT32 (firmware reads FAT12/16/32 alike).
 */
export function mkfsFatArgv(image: string, spec: FatSpec): string[] {
  return ['mkfs.fat', '-F', '16', '-i', spec.volumeId, '-n', spec.label, `--offset=${spec.start}`, image, String(spec.sectors / 2)];
}

/**
 * An mtools command on the FAT file system at `offset` bytes of the image. mtools checks
 * a file system's geometry against the BIOS's idea of it, which means nothing for an
 * image: MTOOLS_SKIP_CHECK turns that off.
 */
export function mtoolsArgv(command: 'mmd' | 'mcopy', image: string, offset: number, args: readonly string[]): string[] {
  return ['env', 'MTOOLS_SKIP_CHECK=1', command, '-i', `${image}@@${offset}`, ...args];
}

/** The fstab form of a FAT volume id: "1A2B3C4D" is "1A2B-3C4D". */
export function fatVolumeUuid(volumeId: string): string {
  return `${volumeId.slice(0, 4)}-${volumeId.slice(4)}`.toUpperCase();
}
