import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EnvironmentError } from '../../src/common/errors.js';
import type { Bootloader } from '../../src/builder/description/model.js';
import { BOOT_IMG, biosMbr, placedCoreImage } from '../../src/builder/outputs/bios-boot.js';
import { chooseBootFiles, findBootFiles } from '../../src/builder/outputs/boot-files.js';
import { diskFirmware } from '../../src/builder/outputs/disk-image.js';
import { diskLayout, partition, partitionOffset, rootBytesForSize, sfdiskScript } from '../../src/builder/outputs/disk-layout.js';
import { checkDiskTools, diskTools, missingTools } from '../../src/builder/outputs/disk-tools.js';
import { fatVolumeUuid, mke2fsArgv, mkfsFatArgv, mtoolsArgv } from '../../src/builder/outputs/filesystem-argv.js';
import { diskFstabEntries, renderFstab } from '../../src/builder/outputs/fstab.js';
import { embeddedGrubConfig, grubConfig, grubModules, grubTerminals, kernelCmdline } from '../../src/builder/outputs/grub-config.js';
import { grubMkimageArgv } from '../../src/builder/outputs/grub-images.js';
import { resultNames } from '../../src/builder/outputs/naming.js';
import { inodeCount, measureTree, rootFilesystemSize } from '../../src/builder/outputs/root-fs-size.js';
import { tempDir } from '../fixtures/temp-dir.js';

const MIB = 1024 * 1024;
const UUID = '0b1e6f4c-6a64-4a0b-9d7e-3f1a2b3c4d5e';

describe('disk layout', () => {
  it('bios: an MBR with one bootable root partition at 1 MiB, core.img in the gap before it', () => {
    const layout = diskLayout('bios', 700 * MIB + 1);
    expect(layout.table).toBe('dos');
    expect(layout.partitions).toEqual([{ role: 'root', number: 1, start: 2048, sectors: 701 * 2048, type: '83', name: undefined, bootable: true }]);
    expect(layout.sectors).toBe(2048 + 701 * 2048);
    expect(layout.coreImage).toEqual({ start: 1, maxSectors: 2047 });
  });

  it('efi: a GPT with KIWI\'s p.legacy (core.img), p.UEFI and p.lxroot, and room for the backup GPT', () => {
    const layout = diskLayout('efi', 100 * MIB);
    expect(layout.table).toBe('gpt');
    expect(layout.partitions.map((part) => [part.number, part.name, part.start, part.sectors])).toEqual([
      [1, 'p.legacy', 2048, 4096],
      [2, 'p.UEFI', 6144, 40960],
      [3, 'p.lxroot', 47104, 204800],
    ]);
    expect(layout.sectors).toBe(47104 + 204800 + 2048);
    expect(layout.coreImage).toEqual({ start: 2048, maxSectors: 4096 });
    expect(partitionOffset(partition(layout, 'root'))).toBe(47104 * 512);
  });

  it('sfdisk scripts name the label, its id, and each partition', () => {
    expect(sfdiskScript(diskLayout('bios', MIB), '1a2b3c4d')).toBe('label: dos\nlabel-id: 0x1a2b3c4d\nunit: sectors\nstart=2048, size=2048, type=83, bootable\n');
    const gpt = sfdiskScript(diskLayout('efi', MIB), UUID).split('\n');
    expect(gpt.slice(0, 3)).toEqual(['label: gpt', `label-id: ${UUID}`, 'unit: sectors']);
    expect(gpt[3]).toBe('start=2048, size=4096, type=21686148-6449-6E6F-744E-656564454649, name="p.legacy"');
    expect(gpt[4]).toBe('start=6144, size=40960, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="p.UEFI"');
    expect(gpt[5]).toBe('start=47104, size=2048, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name="p.lxroot"');
  });

  it('<size>: added to what the tree needs, or the whole disk with the root taking the rest', () => {
    expect(rootBytesForSize('bios', 700 * MIB + 5, undefined)).toBe(701 * MIB);
    expect(rootBytesForSize('bios', 700 * MIB, { bytes: 1024 * MIB, additive: true })).toBe(1724 * MIB);
    expect(rootBytesForSize('bios', 700 * MIB, { bytes: 2048 * MIB, additive: false })).toBe(2047 * MIB);
    // efi: 1 MiB before p.legacy, 2 + 20 MiB of partitions, 1 MiB for the backup GPT.
    expect(rootBytesForSize('efi', 700 * MIB, { bytes: 2048 * MIB, additive: false })).toBe(2024 * MIB);
    expect(diskLayout('efi', rootBytesForSize('efi', 700 * MIB, { bytes: 2048 * MIB, additive: false })).sectors * 512).toBe(2048 * MIB);
    expect(() => rootBytesForSize('bios', 700 * MIB, { bytes: 600 * MIB, additive: false })).toThrow('the disk needs at least 701 MiB, <size> gives 600 MiB');
  });

  it('firmware: bios by default, uefi is built as efi', () => {
    expect(diskFirmware({ firmware: undefined })).toBe('bios');
    expect(diskFirmware({ firmware: 'bios' })).toBe('bios');
    expect(diskFirmware({ firmware: 'efi' })).toBe('efi');
    expect(diskFirmware({ firmware: 'uefi' })).toBe('efi');
  });
});

describe('GRUB for BIOS placed as grub-bios-setup does', () => {
  const bootImg = Buffer.alloc(512, 0xaa);
  const disk = Buffer.alloc(512, 0);
  disk.fill(0x11, BOOT_IMG.ntMagic, 0x1fe);
  disk[0x1fe] = 0x55;
  disk[0x1ff] = 0xaa;
  disk.fill(0x22, BOOT_IMG.bpbStart, BOOT_IMG.bpbEnd);

  it('the MBR has boot.img\'s code, the disk\'s BPB area, signature and partition table, and core.img\'s sector', () => {
    const mbr = biosMbr(bootImg, disk, 2048);
    expect(mbr.subarray(0, 3)).toEqual(bootImg.subarray(0, 3));
    expect(mbr.subarray(BOOT_IMG.bpbStart, BOOT_IMG.bpbEnd)).toEqual(Buffer.alloc(BOOT_IMG.bpbEnd - BOOT_IMG.bpbStart, 0x22));
    expect(mbr.readBigUInt64LE(BOOT_IMG.kernelSector)).toBe(2048n);
    expect([...mbr.subarray(BOOT_IMG.driveCheck, BOOT_IMG.driveCheck + 2)]).toEqual([0x90, 0x90]);
    expect(mbr.subarray(BOOT_IMG.ntMagic)).toEqual(disk.subarray(BOOT_IMG.ntMagic));
    expect(mbr.subarray(0x68, BOOT_IMG.ntMagic)).toEqual(bootImg.subarray(0x68, BOOT_IMG.ntMagic));
  });

  it('refuses images that are not one sector', () => {
    expect(() => biosMbr(Buffer.alloc(511), disk, 1)).toThrow(/boot.img is 511 bytes/);
  });

  it('core.img\'s blocklist loads the sectors after its first, padded to whole sectors', () => {
    const core = placedCoreImage(Buffer.alloc(512 * 286 + 100, 0x33), 1, 2047);
    expect(core.length).toBe(512 * 287);
    expect(core.readBigUInt64LE(0x1f4)).toBe(2n);
    expect(core.readUInt16LE(0x1fc)).toBe(286);
    const inPartition = placedCoreImage(Buffer.alloc(512 * 4), 2048, 4096);
    expect(inPartition.readBigUInt64LE(0x1f4)).toBe(2049n);
    expect(inPartition.readUInt16LE(0x1fc)).toBe(3);
  });

  it('core.img that does not fit before the first partition is an error', () => {
    expect(() => placedCoreImage(Buffer.alloc(512 * 2048), 1, 2047)).toThrow('core.img needs 2048 sectors, only 2047 are free');
  });
});

const serialLoader: Bootloader = { xmlPath: '/b', name: 'grub2', outputConsole: 'serial', inputConsole: undefined, serialLine: 'serial --speed=115200', timeout: 1, timeoutStyle: undefined };

describe('grub.cfg and the kernel command line', () => {
  it('boots the root by UUID, read-only until fsck, then kernelcmdline', () => {
    expect(kernelCmdline(UUID, ' console=tty0  console=ttyS0,115200 ')).toBe(`root=UUID=${UUID} ro console=tty0 console=ttyS0,115200`);
    expect(kernelCmdline(UUID, undefined)).toBe(`root=UUID=${UUID} ro`);
  });

  it('sets up the serial terminal from <bootloader> and one entry booting kernel and initrd', () => {
    const text = grubConfig({ title: "Jo's disk", rootUuid: UUID, kernel: '/vmlinuz', initrd: '/initrd.img', cmdline: `root=UUID=${UUID} ro`, bootloader: serialLoader });
    expect(text.split('\n')).toEqual([
      '# Written by kiwi build: the disk image boots this entry.',
      'set default=0',
      'set timeout=1',
      'serial --speed=115200',
      'terminal_input serial',
      'terminal_output serial',
      "menuentry 'Jo'\\''s disk' --id kiwi {",
      `    search --no-floppy --fs-uuid --set=root ${UUID}`,
      "    echo 'Loading /vmlinuz ...'",
      `    linux /vmlinuz root=UUID=${UUID} ro`,
      '    initrd /initrd.img',
      '}',
      '',
    ]);
  });

  it('defaults: KIWI\'s 10 s timeout, the firmware console, no serial line', () => {
    const text = grubConfig({ title: 't', rootUuid: UUID, kernel: '/k', initrd: '/i', cmdline: '', bootloader: undefined });
    expect(text).toContain('set timeout=10\n');
    expect(text).toContain('terminal_output console\n');
    expect(text).not.toContain('serial');
    const both = grubConfig({ title: 't', rootUuid: UUID, kernel: '/k', initrd: '/i', cmdline: '', bootloader: { ...serialLoader, outputConsole: 'serial console', serialLine: undefined, timeoutStyle: 'hidden' } });
    expect(both).toContain('set timeout_style=hidden\nserial\nterminal_input serial console\nterminal_output serial console\n');
  });

  it('tells the consoles GRUB gets from the ones it cannot set up', () => {
    expect(grubTerminals('serial gfxterm')).toEqual({ terminals: ['serial'], unsupported: ['gfxterm'] });
    expect(grubTerminals(undefined)).toEqual({ terminals: ['console'], unsupported: [] });
  });

  it('the embedded config finds the root by UUID and reads its /boot/grub', () => {
    expect(embeddedGrubConfig(UUID)).toBe(`search --no-floppy --fs-uuid --set=root ${UUID}\nset prefix=($root)/boot/grub\n`);
  });

  it('grub-mkimage builds in the modules: biosdisk for BIOS, fat for the ESP, ext2 and linux for both', () => {
    expect(grubModules('i386-pc')).toEqual(expect.arrayContaining(['biosdisk', 'part_msdos', 'part_gpt', 'ext2', 'search_fs_uuid', 'normal', 'linux', 'serial']));
    expect(grubModules('x86_64-efi')).toEqual(expect.arrayContaining(['fat', 'part_gpt', 'ext2', 'linux', 'serial']));
    expect(grubModules('x86_64-efi')).not.toContain('biosdisk');
    expect(grubMkimageArgv('i386-pc', '/w/core.img', '/w/e.cfg').slice(0, 6)).toEqual([
      'grub-mkimage',
      '--format=i386-pc',
      '--directory=/usr/lib/grub/i386-pc',
      '--output=/w/core.img',
      '--config=/w/e.cfg',
      '--prefix=/boot/grub',
    ]);
  });
});

describe('/etc/fstab', () => {
  it('the root by UUID with fsck first, the ESP at /boot/efi; other entries of the image kept', () => {
    const entries = diskFstabEntries({ uuid: UUID, fsType: 'ext4' }, { volumeId: '1A2B-3C4D' });
    const old = '# UNCONFIGURED FSTAB FOR BASE SYSTEM\n/dev/sda1 / ext4 defaults 0 1\ntmpfs /tmp tmpfs defaults 0 0\n';
    expect(renderFstab(entries, old)).toBe(
      `# Written by kiwi build for the disk image.\nUUID=${UUID} / ext4 defaults 0 1\nUUID=1A2B-3C4D /boot/efi vfat umask=0077 0 2\ntmpfs /tmp tmpfs defaults 0 0\n`,
    );
    expect(renderFstab(diskFstabEntries({ uuid: UUID, fsType: 'ext3' }, undefined))).toBe(`# Written by kiwi build for the disk image.\nUUID=${UUID} / ext3 defaults 0 1\n`);
  });
});

describe('file systems written at their offset', () => {
  it('mke2fs -d with fixed UUID, 4 KiB blocks, the partition offset and no discard', () => {
    expect(mke2fsArgv('/t/d.raw', { fsType: 'ext4', uuid: UUID, label: 'ROOT', bytes: 8 * MIB, inodes: 5000, offset: MIB, rootDir: '/b/root' })).toEqual([
      'mke2fs', '-q', '-F', '-t', 'ext4', '-b', '4096', '-U', UUID, '-L', 'ROOT', '-N', '5000', '-E', 'offset=1048576,nodiscard', '-d', '/b/root', '/t/d.raw', '8192k',
    ]);
  });

  it('mkfs.fat FAT16 at the ESP\'s sector, mtools at its byte offset, the volume id in fstab form', () => {
    expect(mkfsFatArgv('/t/d.raw', { volumeId: '1A2B3C4D', label: 'EFI', start: 6144, sectors: 40960 })).toEqual(['mkfs.fat', '-F', '16', '-i', '1A2B3C4D', '-n', 'EFI', '--offset=6144', '/t/d.raw', '20480']);
    expect(mtoolsArgv('mcopy', '/t/d.raw', 3 * MIB, ['/w/BOOTX64.EFI', '::/EFI/BOOT/BOOTX64.EFI'])).toEqual([
      'env', 'MTOOLS_SKIP_CHECK=1', 'mcopy', '-i', '/t/d.raw@@3145728', '/w/BOOTX64.EFI', '::/EFI/BOOT/BOOTX64.EFI',
    ]);
    expect(fatVolumeUuid('1a2b3c4d')).toBe('1A2B-3C4D');
  });
});

describe('root file system size', () => {
  it('the data, inode tables, journal and metadata, plus free space; whole MiB', () => {
    const small = rootFilesystemSize({ bytes: 100 * MIB, inodes: 1000 });
    expect(small.bytes % MIB).toBe(0);
    expect(small.bytes).toBeGreaterThanOrEqual((100 + 64 + 256) * MIB);
    expect(small.minInodes).toBeGreaterThanOrEqual(1500);
    expect(inodeCount(small.bytes, small.minInodes)).toBe(small.bytes / 16384);
    expect(inodeCount(small.bytes, 10 ** 6)).toBe(10 ** 6);
    const debian = rootFilesystemSize({ bytes: 700 * MIB, inodes: 30000 });
    expect(debian.bytes).toBeGreaterThan(1000 * MIB);
    expect(debian.bytes).toBeLessThan(1400 * MIB);
  });

  it('measures a tree in 4 KiB blocks, hard links once, short symlinks inside their inode', () => {
    const root = tempDir('kiwi-measure-');
    fs.writeFileSync(path.join(root, 'a'), Buffer.alloc(5000));
    fs.linkSync(path.join(root, 'a'), path.join(root, 'a-link'));
    fs.symlinkSync('a', path.join(root, 'short'));
    fs.mkdirSync(path.join(root, 'd'));
    fs.writeFileSync(path.join(root, 'd/empty'), '');
    // root, a, short, d, d/empty: 5 inodes; a (2 blocks), d/empty (1), root and d (1 each).
    expect(measureTree(root)).toEqual({ inodes: 5, bytes: 5 * 4096 });
  });
});

describe('kernel and initrd of the image', () => {
  it('prefers Debian\'s links, in /boot first, then /', () => {
    expect(chooseBootFiles((file) => ['vmlinuz', 'initrd.img', 'boot/vmlinuz', 'boot/initrd.img'].includes(file), [])).toEqual({ kernel: '/boot/vmlinuz', initrd: '/boot/initrd.img' });
    expect(chooseBootFiles((file) => ['vmlinuz', 'initrd.img'].includes(file), [])).toEqual({ kernel: '/vmlinuz', initrd: '/initrd.img' });
  });

  it('else the newest kernel in /boot that has an initrd', () => {
    const files = ['boot/initrd.img-6.1.0-9-amd64', 'boot/initrd.img-6.1.0-10-amd64'];
    const boot = ['vmlinuz-6.1.0-9-amd64', 'vmlinuz-6.1.0-10-amd64', 'vmlinuz-6.1.0-11-amd64', 'config-6.1.0-11-amd64'];
    expect(chooseBootFiles((file) => files.includes(file), boot)).toEqual({ kernel: '/boot/vmlinuz-6.1.0-10-amd64', initrd: '/boot/initrd.img-6.1.0-10-amd64' });
    expect(chooseBootFiles(() => false, boot)).toBeUndefined();
  });

  it('follows links inside the tree, never out of it', () => {
    const root = tempDir('kiwi-boot-files-');
    fs.mkdirSync(path.join(root, 'boot'));
    fs.writeFileSync(path.join(root, 'boot/vmlinuz-6.1.0-9-amd64'), 'k');
    fs.writeFileSync(path.join(root, 'boot/initrd.img-6.1.0-9-amd64'), 'i');
    fs.symlinkSync('boot/vmlinuz-6.1.0-9-amd64', path.join(root, 'vmlinuz'));
    fs.symlinkSync('/boot/initrd.img-6.1.0-9-amd64', path.join(root, 'initrd.img'));
    expect(findBootFiles(root)).toEqual({ kernel: '/vmlinuz', initrd: '/initrd.img' });
    fs.rmSync(path.join(root, 'initrd.img'));
    fs.symlinkSync('../../../../../../etc/hostname', path.join(root, 'initrd.img'));
    expect(findBootFiles(root)).toEqual({ kernel: '/boot/vmlinuz-6.1.0-9-amd64', initrd: '/boot/initrd.img-6.1.0-9-amd64' });
  });
});

describe('build host tools', () => {
  it('bios needs sfdisk, mke2fs and GRUB for i386-pc; efi also GRUB for x86_64-efi, mkfs.fat and mtools', () => {
    expect(diskTools('bios').map((tool) => tool.package)).toEqual(['fdisk', 'e2fsprogs', 'grub-common', 'grub-pc-bin']);
    expect(diskTools('efi').map((tool) => tool.package)).toEqual(['fdisk', 'e2fsprogs', 'grub-common', 'grub-pc-bin', 'grub-efi-amd64-bin', 'dosfstools', 'mtools']);
  });

  it('looks programs up in the given directories and files by path', () => {
    const dir = tempDir('kiwi-tools-');
    fs.writeFileSync(path.join(dir, 'sfdisk'), '#!/bin/sh\n', { mode: 0o755 });
    fs.writeFileSync(path.join(dir, 'mke2fs'), 'not executable', { mode: 0o644 });
    const missing = missingTools([{ name: 'sfdisk', package: 'fdisk' }, { name: 'mke2fs', package: 'e2fsprogs' }, { name: path.join(dir, 'nope.img'), package: 'x' }], [dir]);
    expect(missing.map((tool) => tool.package)).toEqual(['e2fsprogs', 'x']);
  });

  it('a missing tool is an environment error (exit 3) naming the Debian packages to install', () => {
    const error = (() => {
      try {
        checkDiskTools('bios', [tempDir('kiwi-no-tools-')]);
      } catch (caught) {
        return caught as EnvironmentError;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(EnvironmentError);
    expect(error?.exitCode).toBe(3);
    expect(error?.message).toMatch(/^building a bios disk image needs sfdisk, mke2fs, grub-mkimage/);
    expect(error?.hint).toMatch(/^install fdisk e2fsprogs grub-common/);
  });
});

describe('oem result name', () => {
  it('is NAME.ARCH-VERSION.raw, never compressed', () => {
    const model = { name: 'debian-oem', arch: 'x86_64' as const, preferences: { version: '1.0.0' }, type: { image: 'oem' } };
    expect(resultNames(model as never).image).toBe('debian-oem.x86_64-1.0.0.raw');
    expect(resultNames(model as never, false).image).toBe('debian-oem.x86_64-1.0.0.raw');
  });
});
