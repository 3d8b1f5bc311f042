import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { diskTools, missingTools } from '../../src/builder/outputs/disk-tools.js';
import { ensureTestBox, TEST_BOX_CACHE } from '../fixtures/box/built-box.js';
import { processesUnder } from '../fixtures/processes.js';
import { runKiwi } from '../fixtures/run-kiwi.js';
import { tempDir } from '../fixtures/temp-dir.js';

// `kiwi build` of descriptions/debian-oem natively as root, checked with real clients:
// sfdisk reads the partition table, e2fsck and debugfs the root file system, and QEMU
// (TCG) boots the disk until the login prompt of the image's serial getty. The same
// build cache as build-native.test.ts: the bootstrap layer is shared.
const REPO = path.resolve(__dirname, '../..');
const CACHE = process.env.KIWI_TEST_BUILD_CACHE ?? '/var/tmp/kiwi-build-test-cache';
const DESCRIPTION = path.join(REPO, 'descriptions/debian-oem');
const OVMF = '/usr/share/ovmf/OVMF.fd';
const LONG = 900_000;
/** Under TCG a Debian kernel, its initramfs and systemd take 60-90 s to a login prompt here. */
const BOOT_TIMEOUT_MS = 300_000;

const hostReady =
  process.getuid?.() === 0 &&
  missingTools([...diskTools('efi'), { name: 'qemu-system-x86_64', package: 'qemu-system-x86' }, { name: 'debugfs', package: 'e2fsprogs' }]).length === 0;

interface BuildJson {
  image: string;
  packages: string;
  result: string;
  sizeBytes: number;
  seconds: number;
}

async function buildDisk(description: string): Promise<{ target: string; json: BuildJson }> {
  const target = tempDir('kiwi-build-oem-');
  // The packages phase must run for its initramfs to be checked: no saved packages layer
  // (test files run one at a time, so no other build is using one).
  fs.rmSync(path.join(CACHE, 'packages'), { recursive: true, force: true });
  const done = await runKiwi(['build', '--description', description, '--target-dir', target, '--json'], { env: { KIWI_BUILD_CACHE_DIR: CACHE } });
  expect(done.exitCode, String(done.stderr)).toBe(0);
  const json = JSON.parse(String(done.stdout).trim().split('\n').pop() ?? '') as BuildJson;
  console.log(`kiwi build ${path.basename(description)}: ${json.seconds} s`);
  return { target, json };
}

interface SfdiskPartition {
  start: number;
  size: number;
  type: string;
  name?: string;
  bootable?: boolean;
}

async function partitionTable(image: string): Promise<{ label: string; partitions: SfdiskPartition[] }> {
  return JSON.parse(String((await execa('sfdisk', ['-J', image])).stdout)).partitiontable;
}

/** e2fsprogs open a file system inside an image as FILE?offset=BYTES. */
const at = (image: string, part: SfdiskPartition): string => `${image}?offset=${part.start * 512}`;

async function debugfs(device: string, request: string): Promise<string> {
  return String((await execa('debugfs', ['-R', request, device])).stdout);
}

/**
 * Boots the disk under TCG (snapshot=on: the image is never written) with its serial
 * console in a file, until `until` matches the console or the timeout; QEMU is always
 * killed. Returns the console text and the seconds to the match.
 */
async function bootDisk(image: string, until: RegExp, extraArgs: string[] = []): Promise<{ console: string; seconds: number }> {
  const serial = path.join(tempDir('kiwi-oem-boot-'), 'serial.log');
  const started = Date.now();
  const qemu = execa(
    'qemu-system-x86_64',
    ['-accel', 'tcg', '-m', '1024', '-smp', '1', '-display', 'none', '-no-reboot', '-nic', 'none', '-serial', `file:${serial}`, '-drive', `file=${image},format=raw,if=virtio,snapshot=on`, ...extraArgs],
    { reject: false, stdin: 'ignore', forceKillAfterDelay: 5_000 },
  );
  try {
    while (Date.now() - started < BOOT_TIMEOUT_MS && qemu.exitCode === null) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const text = fs.existsSync(serial) ? fs.readFileSync(serial, 'latin1') : '';
      if (until.test(text)) return { console: text, seconds: (Date.now() - started) / 1000 };
    }
    const text = fs.existsSync(serial) ? fs.readFileSync(serial, 'latin1') : '';
    throw new Error(`no ${until} on the serial console after ${(Date.now() - started) / 1000} s; its end:\n${text.slice(-3000)}`);
  } finally {
    qemu.kill('SIGTERM');
    await qemu;
  }
}

/** The initramfs files the build's log says were generated, by kernel major.minor. */
function initramfsGenerations(target: string): string[] {
  const log = fs.readFileSync(path.join(target, 'build', 'image-root.log'), 'utf8');
  return [...log.matchAll(/update-initramfs: Generating (\/boot\/initrd\.img-\d+\.\d+)/g)].map((match) => match[1]!);
}

describe.skipIf(!hostReady)('kiwi build oem (native, root), booted with QEMU', () => {
  let target: string;
  let json: BuildJson;
  let image: string;

  beforeAll(async () => {
    if (!fs.existsSync(path.join(REPO, 'dist', 'cli', 'build.js'))) throw new Error('build first: npm run build');
    ({ target, json } = await buildDisk(DESCRIPTION));
    image = path.join(target, 'debian-oem.x86_64-1.0.0.raw');
  }, LONG);

  it('writes NAME.ARCH-VERSION.raw (sparse), the .packages and kiwi.result.json listing it as disk_image', () => {
    expect(json.image).toBe(image);
    const stat = fs.statSync(image);
    expect(stat.size % (1024 * 1024)).toBe(0);
    expect(stat.blocks * 512).toBeLessThan(stat.size);
    const packages = fs.readFileSync(path.join(target, 'debian-oem.x86_64-1.0.0.packages'), 'utf8');
    expect(packages).toMatch(/^linux-image-amd64\|None\|[^|]+\|None\|amd64\|None\|None$/m);
    expect(packages).not.toMatch(/^grub/m);
    const result = JSON.parse(fs.readFileSync(path.join(target, 'kiwi.result.json'), 'utf8'));
    expect(result.image.type).toBe('oem');
    // The kernel's initramfs is made once (the packages step holds the install's own back), not twice.
    expect(initramfsGenerations(target)).toEqual(['/boot/initrd.img-6.1']);
    expect(result.result_files.disk_image).toEqual({ filename: image, use_for_bundle: true, compress: false, shasum: true });
  });

  it('has an MBR with one bootable Linux partition at 1 MiB, a clean ext4 with owners kept, fstab and grub.cfg naming its UUID', async () => {
    const table = await partitionTable(image);
    expect(table.label).toBe('dos');
    expect(table.partitions).toHaveLength(1);
    const root = table.partitions[0]!;
    expect(root).toMatchObject({ start: 2048, type: '83', bootable: true });
    expect((root.start + root.size) * 512).toBe(fs.statSync(image).size);
    await execa('e2fsck', ['-fn', at(image, root)]);
    const header = String((await execa('dumpe2fs', ['-h', at(image, root)])).stdout);
    const uuid = /^Filesystem UUID:\s+(\S+)$/m.exec(header)?.[1];
    expect(header).toMatch(/^Filesystem volume name:\s+ROOT$/m);
    expect(await debugfs(at(image, root), 'cat /etc/fstab')).toContain(`UUID=${uuid} / ext4 defaults 0 1`);
    const grubCfg = await debugfs(at(image, root), 'cat /boot/grub/grub.cfg');
    expect(grubCfg).toContain(`linux /vmlinuz root=UUID=${uuid} ro console=tty0 console=ttyS0,115200`);
    expect(grubCfg).toContain('serial --unit=0 --speed=115200\nterminal_input serial console\n');
    // The shadow file keeps its group (shadow, 42) and mode: mke2fs -d copied owners.
    expect(await debugfs(at(image, root), 'stat /etc/shadow')).toMatch(/Mode: +0640[\s\S]*Group: +42/);
    expect(await debugfs(at(image, root), 'cat /etc/hostname')).toBe('debian-oem');
  });

  it('boots under TCG from the disk: GRUB, the kernel with root=UUID, the root mounted, a login prompt', { timeout: LONG }, async () => {
    const boot = await bootDisk(image, /debian-oem login:/);
    console.log(`debian-oem booted to its login prompt in ${boot.seconds} s (TCG)`);
    expect(boot.console).toContain('GNU GRUB');
    expect(boot.console).toMatch(/Command line: BOOT_IMAGE=\/vmlinuz root=UUID=[0-9a-f-]{36} ro console=tty0 console=ttyS0,115200/);
    expect(boot.console).toMatch(/EXT4-fs \(vda1\): mounted filesystem/);
    expect(boot.console).toContain('Debian 12 oem disk built by kiwi');
  });
});

describe.skipIf(!hostReady || !fs.existsSync(OVMF))('kiwi build oem with firmware="efi", booted with OVMF', () => {
  it('writes a GPT with the BIOS boot partition, a FAT ESP with BOOTX64.EFI and the root, and boots under UEFI', { timeout: 2 * LONG }, async () => {
    const description = path.join(tempDir('kiwi-oem-efi-'), 'debian-oem');
    fs.cpSync(DESCRIPTION, description, { recursive: true });
    const config = path.join(description, 'config.kiwi');
    fs.writeFileSync(config, fs.readFileSync(config, 'utf8').replace('firmware="bios"', 'firmware="efi"'));
    const { json } = await buildDisk(description);
    const table = await partitionTable(json.image);
    expect(table.label).toBe('gpt');
    expect(table.partitions.map((part) => [part.name, part.type])).toEqual([
      ['p.legacy', '21686148-6449-6E6F-744E-656564454649'],
      ['p.UEFI', 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B'],
      ['p.lxroot', '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709'],
    ]);
    const esp = table.partitions[1]!;
    const listing = await execa('mdir', ['-b', '-i', `${json.image}@@${esp.start * 512}`, '::/EFI/BOOT'], { env: { MTOOLS_SKIP_CHECK: '1' } });
    expect(String(listing.stdout)).toContain('::/EFI/BOOT/BOOTX64.EFI');
    await execa('e2fsck', ['-fn', at(json.image, table.partitions[2]!)]);
    const boot = await bootDisk(json.image, /debian-oem login:/, ['-bios', OVMF]);
    console.log(`debian-oem (efi) booted to its login prompt under OVMF in ${boot.seconds} s (TCG)`);
    expect(boot.console).toMatch(/efi: EFI v[\d.]+ by EDK II/);
    expect(boot.console).toMatch(/EXT4-fs \(vda3\): mounted filesystem/);
    expect(boot.console).toMatch(/Mounted .*boot-efi\.mount/);
  });
});

// The same disk built in the debian box under TCG: the image's kernel and initramfs are
// made by emulated dpkg and update-initramfs (16 min here; the native file takes 3), so this
// runs only with KIWI_TEST_SLOW=1 (README, "Tests").
const SLOW = process.env.KIWI_TEST_SLOW === '1';

describe.skipIf(!hostReady || !SLOW)('kiwi boxbuild oem (debian box, TCG; KIWI_TEST_SLOW=1), booted with QEMU', () => {
  it('builds the BIOS disk in the box, its initramfs made once, and the disk boots to its login prompt', { timeout: 2 * 60 * 60_000 }, async () => {
    await ensureTestBox();
    const target = tempDir('kiwi-boxbuild-oem-');
    const runtime = tempDir('kiwi-rt-');
    const done = await runKiwi(['boxbuild', '--box', 'debian', '--no-update-check', '--json', '--', '--description', DESCRIPTION, '--target-dir', target], {
      env: { KIWI_BOXED_CACHE_DIR: TEST_BOX_CACHE, XDG_RUNTIME_DIR: runtime },
    });
    expect(done.exitCode, String(done.stderr)).toBe(0);
    const json = JSON.parse(String(done.stdout).trim().split('\n').pop() ?? '') as BuildJson;
    console.log(`kiwi boxbuild debian-oem: ${json.seconds} s`);
    expect(json.image).toBe(path.join(target, 'debian-oem.x86_64-1.0.0.raw'));
    expect(initramfsGenerations(target)).toEqual(['/boot/initrd.img-6.1']);
    const table = await partitionTable(json.image);
    expect(table.label).toBe('dos');
    await execa('e2fsck', ['-fn', at(json.image, table.partitions[0]!)]);
    const boot = await bootDisk(json.image, /debian-oem login:/);
    console.log(`debian-oem from the box booted to its login prompt in ${boot.seconds} s (TCG)`);
    expect(boot.console).toMatch(/Command line: BOOT_IMAGE=\/vmlinuz root=UUID=[0-9a-f-]{36} ro/);
    // The VM is gone with the build.
    expect(processesUnder(runtime, /^qemu-system/)).toEqual([]);
  });
});
