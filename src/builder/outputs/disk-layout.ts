/**
 * The partition layout of a disk image and the sfdisk script that writes it. Pure.
 *
 * bios: an MBR (dos) table with one bootable root partition at 1 MiB; GRUB's core.img
 * lives in the gap before it (sectors 1..2047), as grub-install puts it.
 * efi: a GPT with KIWI's partitions — p.legacy (BIOS boot, holds core.img, so the disk
 * boots under a BIOS too), p.UEFI (the ESP) and p.lxroot — and 1 MiB at the end for
 * the backup GPT.
 */

export const SECTOR_BYTES = 512;
export const MIB = 1024 * 1024;
const MIB_SECTORS = MIB / SECTOR_BYTES;

/** KIWI's defaults: a 2 MiB BIOS boot partition and a 20 MiB ESP (Defaults.get_default_{legacy_bios,efi}_mbytes). */
export const BIOS_BOOT_MIB = 2;
export const ESP_MIB = 20;

export type Firmware = 'bios' | 'efi';

/** sfdisk partition types: MBR ids, GPT type GUIDs. */
export const PARTITION_TYPES = {
  mbrLinux: '83',
  gptBiosBoot: '21686148-6449-6E6F-744E-656564454649',
  gptEsp: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
  // The Discoverable Partitions Specification's x86-64 root, so systemd's tools know it too.
  gptRootX86_64: '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709',
} as const;

export interface Partition {
  /** What it holds. */
  role: 'bios-boot' | 'esp' | 'root';
  /** 1-based partition number (the N of /dev/sdaN). */
  number: number;
  /** First sector (512 bytes each). */
  start: number;
  /** Length in sectors. */
  sectors: number;
  /** sfdisk's type= value. */
  type: string;
  /** GPT partition name (KIWI's), undefined on MBR. */
  name: string | undefined;
  /** MBR boot flag. */
  bootable: boolean;
}

export interface DiskLayout {
  table: 'dos' | 'gpt';
  /** Whole disk, in sectors. */
  sectors: number;
  partitions: Partition[];
  /** Where GRUB's core.img goes (first sector) and how many sectors it may take. */
  coreImage: { start: number; maxSectors: number };
}

/** The layout for a root file system of `rootBytes` (rounded up to whole MiB). */
export function diskLayout(firmware: Firmware, rootBytes: number): DiskLayout {
  const rootSectors = Math.ceil(rootBytes / MIB) * MIB_SECTORS;
  if (firmware === 'bios') {
    const root: Partition = { role: 'root', number: 1, start: MIB_SECTORS, sectors: rootSectors, type: PARTITION_TYPES.mbrLinux, name: undefined, bootable: true };
    return { table: 'dos', sectors: root.start + root.sectors, partitions: [root], coreImage: { start: 1, maxSectors: root.start - 1 } };
  }
  const biosBoot: Partition = { role: 'bios-boot', number: 1, start: MIB_SECTORS, sectors: BIOS_BOOT_MIB * MIB_SECTORS, type: PARTITION_TYPES.gptBiosBoot, name: 'p.legacy', bootable: false };
  const esp: Partition = { role: 'esp', number: 2, start: end(biosBoot), sectors: ESP_MIB * MIB_SECTORS, type: PARTITION_TYPES.gptEsp, name: 'p.UEFI', bootable: false };
  const root: Partition = { role: 'root', number: 3, start: end(esp), sectors: rootSectors, type: PARTITION_TYPES.gptRootX86_64, name: 'p.lxroot', bootable: false };
  return {
    table: 'gpt',
    // The backup GPT (33 sectors) needs the end of the disk: keep a whole MiB free there.
    sectors: end(root) + MIB_SECTORS,
    partitions: [biosBoot, esp, root],
    coreImage: { start: biosBoot.start, maxSectors: biosBoot.sectors },
  };
}

/**
 * The root partition's size in bytes for a `<size>` request: with additive, what the tree
 * needs plus the size; else the whole disk is the size and the root partition takes what
 * the other partitions and the table leave. A whole disk smaller than the tree needs is a
 * RangeError saying the smallest disk that would do, in MiB.
 */
export function rootBytesForSize(firmware: Firmware, neededRootBytes: number, size: { bytes: number; additive: boolean } | undefined): number {
  const needed = Math.ceil(neededRootBytes / MIB) * MIB;
  if (!size) return needed;
  if (size.additive) return needed + Math.ceil(size.bytes / MIB) * MIB;
  const overhead = diskLayout(firmware, 0).sectors * SECTOR_BYTES;
  const root = Math.floor((size.bytes - overhead) / MIB) * MIB;
  if (root < needed) throw new RangeError(`the disk needs at least ${(needed + overhead) / MIB} MiB, <size> gives ${Math.floor(size.bytes / MIB)} MiB`);
  return root;
}

/** The partition with `role`; throws when the layout has none (a programming error). */
export function partition(layout: DiskLayout, role: Partition['role']): Partition {
  const found = layout.partitions.find((part) => part.role === role);
  if (!found) throw new Error(`disk layout has no ${role} partition`);
  return found;
}

/** Byte offset of a partition in the disk image. */
export function partitionOffset(part: Partition): number {
  return part.start * SECTOR_BYTES;
}

/**
 * sfdisk's script for the layout (sfdisk(8), "input format"). `diskId` is the MBR disk
 * signature (8 hex digits) or the GPT disk GUID.
 */
export function sfdiskScript(layout: DiskLayout, diskId: string): string {
  const lines = [`label: ${layout.table}`, `label-id: ${layout.table === 'dos' ? `0x${diskId}` : diskId}`, 'unit: sectors'];
  for (const part of layout.partitions) {
    const fields = [`start=${part.start}`, `size=${part.sectors}`, `type=${part.type}`];
    if (part.name !== undefined) fields.push(`name="${part.name}"`);
    if (part.bootable) fields.push('bootable');
    lines.push(fields.join(', '));
  }
  return `${lines.join('\n')}\n`;
}

function end(part: Partition): number {
  return part.start + part.sectors;
}
