import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCatalog } from '../../src/box/catalog.js';
import type { BoxBuildResult } from '../../src/box/recipe/build-box.js';
import { bootBox, type RunningBox } from '../../src/vm/boot-box.js';
import { execCapture } from '../fixtures/box/exec-capture.js';
import { canBuildAarch64Box, ensureTestBox, TEST_BOX_CACHE } from '../fixtures/box/built-box.js';
import { tempDir } from '../fixtures/box-fixture.js';
import { runKiwi } from '../fixtures/run-kiwi.js';

// The aarch64 debian box on this x86_64 host: built from the recipe with mmdebstrap through
// qemu-user (binfmt_misc), booted under TCG. Building needs root and qemu-user-static; a cold
// build takes several minutes (every package is configured under emulation), later runs find
// the box up to date by its recipe hash (a cold build: 6–22 minutes here, once per recipe).
const canRun = canBuildAarch64Box;
const BUILD_TIMEOUT = 45 * 60_000;
const BOOT_TIMEOUT = 240_000;

/** The first `bytes` bytes of a file. */
function head(file: string, bytes: number): Buffer {
  const fd = fs.openSync(file, 'r');
  const buffer = Buffer.alloc(bytes);
  fs.readSync(fd, buffer, 0, bytes, 0);
  fs.closeSync(fd);
  return buffer;
}

describe.skipIf(!canRun)('the aarch64 debian box on an x86_64 host (qemu-user build, TCG boot)', () => {
  let built: { result: BoxBuildResult; ms: number };

  beforeAll(async () => {
    built = await ensureTestBox('aarch64');
    console.log(`aarch64 box build: ${built.result.status} in ${(built.ms / 1000).toFixed(1)} s (${built.result.version.id})`);
  }, BUILD_TIMEOUT);

  it('puts a complete aarch64 box into the cache: an uncompressed arm64 Image, newc initramfs, compressed qcow2', () => {
    const { version, manifest } = built.result;
    expect(version.verified).toBe(true);
    expect(manifest).toMatchObject({ name: 'debian', arch: 'aarch64', node: '24.21.0', shares: ['9p', 'virtiofs', 'sshfs'] });
    expect(manifest.cmdline).toMatch(/^console=ttyAMA0 /);
    expect(manifest.files.map((f) => [f.path, f.role])).toEqual([['Image', 'kernel'], ['initrd.cpio', 'initrd'], ['root.qcow2', 'disk']]);
    // The arm64 boot protocol's header: "ARM\x64" at 0x38, the image size at 0x10.
    const kernel = head(path.join(version.dir, 'Image'), 64);
    expect(kernel.toString('latin1', 0x38, 0x3c)).toBe('ARM\x64');
    expect(Number(kernel.readBigUInt64LE(0x10))).toBeGreaterThan(fs.statSync(path.join(version.dir, 'Image')).size);
    expect(head(path.join(version.dir, 'initrd.cpio'), 6).toString()).toBe('070701');
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', path.join(version.dir, 'root.qcow2')], { encoding: 'utf8' }));
    expect(info['format-specific'].data['compression-type']).toBe('zstd');
    for (const file of manifest.files) expect(fs.statSync(path.join(version.dir, file.path)).size).toBe(file.size);
  });

  it('rebuilding from the same recipe reuses the cached box and runs no stage', async () => {
    const again = await ensureTestBox('aarch64');
    console.log(`aarch64 box build, up to date: ${(again.ms / 1000).toFixed(1)} s`);
    expect(again.result.status).toBe('up-to-date');
    expect(again.result.version.id).toBe(built.result.version.id);
    expect(again.ms).toBeLessThan(30_000);
  }, BUILD_TIMEOUT);

  describe('booted under TCG with a 9p share', () => {
    let vm: RunningBox | undefined;
    const notices: string[] = [];
    // Made when the tests run, not when the file is collected: a skipped describe runs no afterAll.
    let shared: string;
    const exec = (command: string): Promise<{ code: number | null; stdout: string; stderr: string }> => execCapture(vm!, command);

    beforeAll(() => {
      shared = tempDir('kiwi-arm-share-');
    });
    afterAll(async () => {
      await vm?.shutdown();
      fs.rmSync(shared, { recursive: true, force: true });
    });

    it('boots under TCG (never KVM: a foreign architecture) and answers SSH as an aarch64 machine', async () => {
      fs.writeFileSync(path.join(shared, 'from-host.txt'), 'hello from x86_64\n');
      vm = await bootBox({
        cacheRoot: TEST_BOX_CACHE,
        catalog: loadCatalog({ env: {} }),
        name: 'debian',
        arch: 'aarch64',
        updateCheck: false,
        accel: 'auto',
        shares: [{ hostDir: shared, guestDir: '/mnt/share', readOnly: false }],
        timeoutMs: BOOT_TIMEOUT,
        onNotice: (message) => notices.push(message),
      });
      console.log(`aarch64 TCG boot: QEMU started ${(vm.timings.qemuStarted / 1000).toFixed(2)} s, SSH ready ${(vm.timings.sshReady / 1000).toFixed(2)} s`);
      expect(vm.accel).toBe('tcg');
      expect(notices).toEqual(['KVM not used, booting under TCG (slower): KVM cannot run aarch64 guests on this x86_64 host']);
      expect(await exec('uname -m')).toEqual({ code: 0, stdout: 'aarch64\n', stderr: '' });
      expect(fs.readFileSync(vm.workdir.serialLog, 'utf8')).toContain('kiwi-box: ready');
    }, BOOT_TIMEOUT + 60_000);

    it('runs aarch64 programs natively (ELF e_machine 0xB7: /bin/sh, the box Node.js) and registers qemu-user for x86_64 ones', async () => {
      expect(vm).toBeDefined();
      // e_machine is the little-endian 16-bit field at offset 18 of the ELF header.
      expect((await exec('od -A n -t x1 -j 18 -N 2 /bin/sh')).stdout.trim()).toBe('b7 00');
      expect((await exec('od -A n -t x1 -j 18 -N 2 /opt/kiwi/node/bin/node')).stdout.trim()).toBe('b7 00');
      expect((await exec('/opt/kiwi/node/bin/node -p process.arch')).stdout).toBe('arm64\n');
      const binfmt = await exec('head -1 /proc/sys/fs/binfmt_misc/qemu-x86_64; ls /proc/sys/fs/binfmt_misc');
      expect(binfmt.stdout.split('\n')[0]).toBe('enabled');
      // The box's own arch never goes through an emulator.
      expect(binfmt.stdout).not.toMatch(/^qemu-aarch64$/m);
    }, 120_000);

    it('has the mounts, network and modules builds need', async () => {
      expect(vm).toBeDefined();
      const mounts = (await exec('cat /proc/mounts')).stdout;
      for (const type of [' / ext4 ', ' /sys/fs/cgroup cgroup2 ', ' /proc/sys/fs/binfmt_misc binfmt_misc ', ' /mnt/share 9p ']) expect(mounts).toContain(type);
      expect((await exec('ip -4 -o addr show eth0')).stdout).toMatch(/inet 10\.0\.2\.15\/24/);
      // Loaded from the initramfs or built into the arm64 kernel: either way present.
      const missing = await exec('for m in virtio_net 9pnet_virtio virtiofs fuse overlay ext4 binfmt_misc qemu_fw_cfg; do [ -d /sys/module/$m ] || grep -q "/$m.ko" /lib/modules/$(uname -r)/modules.builtin || echo $m; done');
      expect(missing.stdout).toBe('');
    }, 60_000);

    it('carries files both ways through the 9p share', async () => {
      expect(vm).toBeDefined();
      expect(await exec('cat /mnt/share/from-host.txt && echo "hello from aarch64" > /mnt/share/from-box.txt && sync')).toEqual({ code: 0, stdout: 'hello from x86_64\n', stderr: '' });
      expect(fs.readFileSync(path.join(shared, 'from-box.txt'), 'utf8')).toBe('hello from aarch64\n');
    }, 60_000);
  });

  it('kiwi box shell --aarch64 runs a command in the box with a virtiofs share', async () => {
    const dir = tempDir('kiwi-arm-vfs-');
    fs.writeFileSync(path.join(dir, 'marker'), '');
    const env = { KIWI_BOXED_CACHE_DIR: TEST_BOX_CACHE, XDG_RUNTIME_DIR: tempDir('kiwi-rt-') };
    const result = await runKiwi(
      ['box', 'shell', 'debian', '--aarch64', '--no-update-check', '--box-timeout', String(BOOT_TIMEOUT / 1000), '--virtiofs-sharing', '--share', `${dir}:/mnt`, '--', 'sh', '-c', 'uname -m; ls /mnt; touch /mnt/made-in-box'],
      { env },
    );
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toBe('aarch64\nmarker');
    expect(result.stderr).toMatch(/KVM not used, booting under TCG/);
    expect(fs.existsSync(path.join(dir, 'made-in-box'))).toBe(true);
    fs.rmSync(dir, { recursive: true, force: true });
  }, BOOT_TIMEOUT + 60_000);
});
