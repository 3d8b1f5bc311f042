import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { BuildFailedError, UsageError } from '../../common/errors.js';
import { formatBytes } from '../../common/units.js';
import type { BuildLog } from '../build-log.js';
import type { DiskSize, ImageType } from '../description/model.js';
import { runLogged } from '../steps/run-logged.js';
import { biosMbr, placedCoreImage } from './bios-boot.js';
import { findBootFiles, type BootFiles } from './boot-files.js';
import { diskLayout, partition, rootBytesForSize, partitionOffset, SECTOR_BYTES, sfdiskScript, type DiskLayout, type Firmware } from './disk-layout.js';
import { fatVolumeUuid, mke2fsArgv, mkfsFatArgv, mtoolsArgv } from './filesystem-argv.js';
import { diskFstabEntries, renderFstab } from './fstab.js';
import { GRUB_PREFIX, grubConfig, kernelCmdline } from './grub-config.js';
import { makeGrubImage, readBootImg } from './grub-images.js';
import { inodeCount, measureTree, rootFilesystemSize } from './root-fs-size.js';
import { tempNameFor } from './write-atomic.js';

export interface DiskImageInput {
  type: ImageType;
  /** The boot menu's title. */
  title: string;
  /** The finished root tree; the disk's /etc/fstab and /boot/grub/grub.cfg are written into it. */
  rootDir: string;
  /** A scratch directory of the build. */
  workDir: string;
  /** The result, NAME.ARCH-VERSION.raw. */
  file: string;
  log: BuildLog;
  signal?: AbortSignal;
}

export interface DiskImageResult {
  firmware: Firmware;
  rootUuid: string;
  boot: BootFiles;
}

/** KIWI's firmware names: uefi is efi with a signed shim, which kiwi does not install (plain GRUB boots without Secure Boot). */
export function diskFirmware(type: Pick<ImageType, 'firmware'>): Firmware {
  return type.firmware === 'bios' || type.firmware === undefined ? 'bios' : 'efi';
}

/**
 * The oem result: a sparse raw disk with the root tree as an ext2/3/4 partition and GRUB
 * from the build host — core.img behind an MBR for BIOS, and for efi also an ESP with
 * EFI/BOOT/BOOTX64.EFI. Every part is written into the image file at its offset.
 */
export async function writeDiskImage(input: DiskImageInput): Promise<DiskImageResult> {
  const { type, rootDir, log } = input;
  const signal = input.signal ? { signal: input.signal } : {};
  const firmware = diskFirmware(type);
  const boot = findBootFiles(rootDir);
  if (!boot) {
    throw new BuildFailedError('the image has no kernel with an initrd to boot (no /vmlinuz and /initrd.img, nor /boot/vmlinuz-VERSION with its initrd.img-VERSION)', {
      hint: 'add a kernel and an initramfs generator to the oem packages, e.g. linux-image-amd64 and initramfs-tools',
    });
  }
  const rootUuid = randomUUID();
  const espVolumeId = randomBytes(4).toString('hex').toUpperCase();
  const fsType = type.filesystem ?? 'ext4';
  // checkBuildable refuses xfs before the build; this keeps mke2fs from being asked for it.
  if (fsType === 'xfs') throw new UsageError('filesystem="xfs" is not built by this version of kiwi', { hint: 'use filesystem="ext4"' });
  writeBootConfig(rootDir, {
    fstab: renderFstab(diskFstabEntries({ uuid: rootUuid, fsType }, firmware === 'efi' ? { volumeId: fatVolumeUuid(espVolumeId) } : undefined), readIfExists(path.join(rootDir, 'etc/fstab'))),
    grubCfg: grubConfig({ title: input.title, rootUuid, ...boot, cmdline: kernelCmdline(rootUuid, type.kernelCmdline), bootloader: type.bootloader }),
    espMountPoint: firmware === 'efi',
  });
  const size = rootFilesystemSize(measureTree(rootDir));
  const layout = diskLayout(firmware, sizedRoot(firmware, size.bytes, type.size));
  const root = partition(layout, 'root');
  const rootBytes = root.sectors * SECTOR_BYTES;
  log.emit({ type: 'log', level: 'info', message: `${firmware} disk of ${formatBytes(layout.sectors * SECTOR_BYTES)} (${layout.table}), root ${fsType} ${formatBytes(rootBytes)} UUID ${rootUuid}, boots ${boot.kernel}`, step: 'disk' });
  const temp = tempNameFor(input.file);
  try {
    fs.writeFileSync(temp, '');
    // Sparse: only what the file systems write takes space.
    fs.truncateSync(temp, layout.sectors * SECTOR_BYTES);
    const script = path.join(input.workDir, 'partitions.sfdisk');
    fs.writeFileSync(script, sfdiskScript(layout, firmware === 'bios' ? randomBytes(4).toString('hex') : randomUUID()));
    await runLogged(['bash', '-c', 'sfdisk --quiet --no-reread --no-tell-kernel "$1" < "$2"', 'kiwi-sfdisk', temp, script], { log, step: 'disk', ...signal });
    await runLogged(mke2fsArgv(temp, { fsType, uuid: rootUuid, label: 'ROOT', bytes: rootBytes, inodes: inodeCount(rootBytes, size.minInodes), offset: partitionOffset(root), rootDir }), { log, step: 'disk', ...signal });
    await installBiosBoot(temp, layout, rootUuid, input);
    if (firmware === 'efi') await installEfiBoot(temp, layout, rootUuid, espVolumeId, input);
    fs.renameSync(temp, input.file);
  } finally {
    fs.rmSync(temp, { force: true });
  }
  return { firmware, rootUuid, boot };
}

/** The root partition's bytes: what the tree needs, or what `<size>` asks for (a too small one is the description's error). */
function sizedRoot(firmware: Firmware, neededBytes: number, size: DiskSize | undefined): number {
  try {
    return rootBytesForSize(firmware, neededBytes, size);
  } catch (error) {
    if (!(error instanceof RangeError) || !size) throw error;
    throw new BuildFailedError(`${error.message} (${size.xmlPath})`, { hint: 'make <size> larger, or use additive="true" to add to the size kiwi computes' });
  }
}

/** The disk's boot files inside the root tree, before it becomes the file system. */
function writeBootConfig(rootDir: string, config: { fstab: string; grubCfg: string; espMountPoint: boolean }): void {
  writeTreeFile(path.join(rootDir, 'etc/fstab'), config.fstab);
  writeTreeFile(path.join(rootDir, GRUB_PREFIX, 'grub.cfg'), config.grubCfg);
  if (config.espMountPoint) fs.mkdirSync(path.join(rootDir, 'boot/efi'), { recursive: true });
}

/** Replaces a file of the tree; a symlink there is replaced too, never followed out of the tree. */
function writeTreeFile(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.rmSync(file, { force: true });
  fs.writeFileSync(file, text, { mode: 0o644 });
}

/** GRUB for BIOS: core.img into the gap (bios) or the BIOS boot partition (efi), boot.img into the MBR. */
async function installBiosBoot(image: string, layout: DiskLayout, rootUuid: string, input: DiskImageInput): Promise<void> {
  const built = await makeGrubImage('i386-pc', rootUuid, input.workDir, input.log, input.signal);
  const core = placedCoreImage(fs.readFileSync(built), layout.coreImage.start, layout.coreImage.maxSectors);
  const fd = fs.openSync(image, 'r+');
  try {
    const diskMbr = Buffer.alloc(SECTOR_BYTES);
    fs.readSync(fd, diskMbr, 0, SECTOR_BYTES, 0);
    fs.writeSync(fd, core, 0, core.length, layout.coreImage.start * SECTOR_BYTES);
    fs.writeSync(fd, biosMbr(readBootImg(), diskMbr, layout.coreImage.start), 0, SECTOR_BYTES, 0);
  } finally {
    fs.closeSync(fd);
  }
}

/** GRUB for UEFI: a FAT ESP holding EFI/BOOT/BOOTX64.EFI, the path firmware boots without any NVRAM entry. */
async function installEfiBoot(image: string, layout: DiskLayout, rootUuid: string, volumeId: string, input: DiskImageInput): Promise<void> {
  const signal = input.signal ? { signal: input.signal } : {};
  const options = { log: input.log, step: 'disk', ...signal };
  const esp = partition(layout, 'esp');
  await runLogged(mkfsFatArgv(image, { volumeId, label: 'EFI', start: esp.start, sectors: esp.sectors }), options);
  const loader = await makeGrubImage('x86_64-efi', rootUuid, input.workDir, input.log, input.signal);
  await runLogged(mtoolsArgv('mmd', image, partitionOffset(esp), ['::/EFI', '::/EFI/BOOT']), options);
  await runLogged(mtoolsArgv('mcopy', image, partitionOffset(esp), [loader, '::/EFI/BOOT/BOOTX64.EFI']), options);
}

function readIfExists(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
