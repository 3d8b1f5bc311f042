import { SECTOR_BYTES } from './disk-layout.js';

/**
 * What grub-bios-setup does to a disk, done on the image file (no loop device, and no
 * grub-pc package, which conflicts with grub-efi on a build host): boot.img becomes the
 * MBR's code and tells it where core.img starts; core.img's first sector (diskboot.img)
 * gets the list of the sectors to load after it. Offsets are GRUB's
 * (include/grub/i386/pc/boot.h, grub-core/boot/i386/pc/diskboot.S). Pure.
 */
export const BOOT_IMG = {
  /** The BIOS parameter block a file system may keep in sector 0: kept from the disk. */
  bpbStart: 0x03,
  bpbEnd: 0x5a,
  /** u64 LE: the first sector of core.img. */
  kernelSector: 0x5c,
  /** A 2-byte jump over the boot-drive check; NOPs on a hard disk (works around BIOSes passing a wrong drive). */
  driveCheck: 0x66,
  /** Disk signature, then the partition table: kept from the disk, up to the 0x55AA signature. */
  ntMagic: 0x1b8,
  partitionTableEnd: 0x1fe,
} as const;

/** The blocklist at the end of diskboot.img: start (u64), length (u16), load segment (u16). */
const BLOCKLIST = { start: SECTOR_BYTES - 12, length: SECTOR_BYTES - 4 } as const;

/**
 * The MBR to write: boot.img's code with the disk's own BPB area, disk signature,
 * partition table and 0x55AA, pointing at core.img at `coreStart`.
 */
export function biosMbr(bootImg: Buffer, diskMbr: Buffer, coreStart: number): Buffer {
  if (bootImg.length !== SECTOR_BYTES) throw new Error(`boot.img is ${bootImg.length} bytes, expected ${SECTOR_BYTES}`);
  if (diskMbr.length !== SECTOR_BYTES) throw new Error(`the disk's MBR is ${diskMbr.length} bytes, expected ${SECTOR_BYTES}`);
  const mbr = Buffer.from(bootImg);
  diskMbr.copy(mbr, BOOT_IMG.bpbStart, BOOT_IMG.bpbStart, BOOT_IMG.bpbEnd);
  mbr.writeBigUInt64LE(BigInt(coreStart), BOOT_IMG.kernelSector);
  mbr[BOOT_IMG.driveCheck] = 0x90;
  mbr[BOOT_IMG.driveCheck + 1] = 0x90;
  diskMbr.copy(mbr, BOOT_IMG.ntMagic, BOOT_IMG.ntMagic, SECTOR_BYTES);
  return mbr;
}

/**
 * core.img ready to be written at `coreStart`: its blocklist says "load the next
 * (sectors - 1) sectors from coreStart + 1" (diskboot.img itself is the first sector).
 * Throws when it does not fit in `maxSectors` (the gap before the first partition).
 */
export function placedCoreImage(coreImg: Buffer, coreStart: number, maxSectors: number): Buffer {
  const sectors = Math.ceil(coreImg.length / SECTOR_BYTES);
  if (sectors < 2) throw new Error(`core.img is ${coreImg.length} bytes: too small to be GRUB's`);
  if (sectors > maxSectors) throw new Error(`core.img needs ${sectors} sectors, only ${maxSectors} are free before the first partition`);
  const core = Buffer.alloc(sectors * SECTOR_BYTES);
  coreImg.copy(core);
  core.writeBigUInt64LE(BigInt(coreStart + 1), BLOCKLIST.start);
  core.writeUInt16LE(sectors - 1, BLOCKLIST.length);
  return core;
}
