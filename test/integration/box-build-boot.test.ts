import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCatalog } from '../../src/box/catalog.js';
import { ensureBox } from '../../src/box/ensure-box.js';
import { parseManifest } from '../../src/box/manifest.js';
import { sha256File } from '../../src/box/recipe/assemble-box.js';
import type { BoxBuildResult } from '../../src/box/recipe/build-box.js';
import { bootBox, type RunningBox } from '../../src/vm/boot-box.js';
import { execCapture } from '../fixtures/box/exec-capture.js';
import { ensureTestBox, TEST_BOX_CACHE } from '../fixtures/box/built-box.js';
import { tempDir } from '../fixtures/box-fixture.js';
import { runKiwi } from '../fixtures/run-kiwi.js';

// Building the box needs root (mmdebstrap, owners in the ext4 image) and QEMU; a cold build
// takes a few minutes, later runs find the box up to date by its recipe hash.
const canRun = process.getuid?.() === 0 && fs.existsSync('/usr/bin/qemu-system-x86_64') && fs.existsSync('/usr/bin/mmdebstrap');
const BUILD_TIMEOUT = 30 * 60_000;

describe.skipIf(!canRun)('the debian box: built from its recipe, booted under TCG', () => {
  let built: { result: BoxBuildResult; ms: number };
  const dirs: string[] = [];

  beforeAll(async () => {
    built = await ensureTestBox();
    console.log(`box build: ${built.result.status} in ${(built.ms / 1000).toFixed(1)} s (${built.result.version.id})`);
  }, BUILD_TIMEOUT);

  afterAll(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('puts a complete box into the cache: PVH ELF kernel, newc initramfs, compressed qcow2, valid box.json', async () => {
    const { version, manifest } = built.result;
    expect(version.verified).toBe(true);
    expect(manifest).toMatchObject({ name: 'debian', arch: 'x86_64', node: '24.21.0', shares: ['9p', 'virtiofs', 'sshfs'] });
    expect(manifest.version).toMatch(/^12\.0\+[0-9a-f]{12}$/);
    expect(manifest.files.map((f) => [f.path, f.role])).toEqual([['vmlinux', 'kernel'], ['initrd.cpio', 'initrd'], ['root.qcow2', 'disk']]);
    const head = (name: string, bytes: number): Buffer => {
      const fd = fs.openSync(path.join(version.dir, name), 'r');
      const buffer = Buffer.alloc(bytes);
      fs.readSync(fd, buffer, 0, bytes, 0);
      fs.closeSync(fd);
      return buffer;
    };
    expect(head('vmlinux', 4)).toEqual(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
    expect(head('initrd.cpio', 6).toString()).toBe('070701');
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', path.join(version.dir, 'root.qcow2')], { encoding: 'utf8' }));
    expect(info.format).toBe('qcow2');
    expect(info['format-specific'].data['compression-type']).toBe('zstd');
    for (const file of manifest.files) expect(fs.statSync(path.join(version.dir, file.path)).size).toBe(file.size);
  });

  it('rebuilding from the same recipe reuses the cached box and runs no stage', async () => {
    const again = await ensureTestBox();
    expect(again.result.status).toBe('up-to-date');
    expect(again.result.version.id).toBe(built.result.version.id);
    expect(Object.entries(again.result.stages).filter(([id]) => id !== 'install').every(([, outcome]) => outcome === 'up to date')).toBe(true);
    expect(again.ms).toBeLessThan(30_000);
  }, BUILD_TIMEOUT);

  it('kiwi box build --output writes a box that kiwi box fetch can install from file://', async () => {
    const output = tempDir('kiwi-box-out-');
    const otherCache = tempDir('kiwi-box-cache-');
    dirs.push(output, otherCache);
    const run = await runKiwi(['box', 'build', 'debian', '--arch', 'x86_64', '--output', output, '--json'], { env: { KIWI_BOXED_CACHE_DIR: TEST_BOX_CACHE } });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ name: 'debian', status: 'up-to-date', id: built.result.version.id });
    const published = parseManifest(fs.readFileSync(path.join(output, 'box.json'), 'utf8'), 'output');
    expect(published.id).toBe(built.result.version.id);
    for (const file of published.manifest.files) expect(await sha256File(path.join(output, file.path))).toBe(file.sha256);
    const fetched = await ensureBox({
      root: otherCache,
      catalog: loadCatalog({ env: {} }),
      name: 'debian',
      arch: 'x86_64',
      updateCheck: true,
      manifestUrl: pathToFileURL(path.join(output, 'box.json')).href,
    });
    expect(fetched.status).toBe('downloaded');
    expect(fetched.version.id).toBe(built.result.version.id);
  }, 5 * 60_000);

  describe('booted by kiwi (src/vm/boot-box.ts) on a throw-away overlay', () => {
    let vm: RunningBox | undefined;
    const exec = (command: string): Promise<{ code: number | null; stdout: string; stderr: string }> => execCapture(vm!, command);

    afterAll(async () => {
      await vm?.shutdown();
    });

    it('answers SSH with the host key it was handed, as root, running x86_64 with the box Node.js', async () => {
      vm = await bootBox({
        cacheRoot: TEST_BOX_CACHE,
        catalog: loadCatalog({ env: {} }),
        name: 'debian',
        arch: 'x86_64',
        updateCheck: false,
        accel: 'tcg',
        timeoutMs: 120_000,
      });
      console.log(`TCG boot: QEMU started ${(vm.timings.qemuStarted / 1000).toFixed(2)} s, SSH ready ${(vm.timings.sshReady / 1000).toFixed(2)} s`);
      expect(vm.box.id).toBe(built.result.version.id);
      expect(await exec('uname -m')).toEqual({ code: 0, stdout: 'x86_64\n', stderr: '' });
      expect((await exec('id -u; /opt/kiwi/node/bin/node --version')).stdout).toBe('0\nv24.21.0\n');
      expect(fs.readFileSync(vm.workdir.serialLog, 'utf8')).toContain('kiwi-box: ready');
    }, 180_000);

    it('carries no private key but the per-VM one, and no apt lists or caches', async () => {
      expect(vm).toBeDefined();
      expect((await exec('ls /etc/ssh | grep key')).stdout).toBe('ssh_host_ed25519_key\n');
      const apt = await exec('ls /var/lib/apt/lists /var/cache/apt/archives | grep -c -E "_Packages|\\.deb$"; ls /var/cache/apt/*.bin 2>/dev/null | wc -l');
      expect(apt.stdout).toBe('0\n0\n');
    }, 60_000);

    it('has the mounts, network and modules builds need', async () => {
      expect(vm).toBeDefined();
      const mounts = (await exec('cat /proc/mounts')).stdout;
      for (const type of [' / ext4 ', ' /proc proc ', ' /sys sysfs ', ' /dev devtmpfs ', ' /dev/pts devpts ', ' /tmp tmpfs ', ' /sys/fs/cgroup cgroup2 ', ' /proc/sys/fs/binfmt_misc binfmt_misc ']) {
        expect(mounts).toContain(type);
      }
      const net = (await exec('ip -4 -o addr show eth0; ip route show default; cat /etc/resolv.conf')).stdout;
      expect(net).toMatch(/inet 10\.0\.2\.15\/24/);
      expect(net).toMatch(/default via 10\.0\.2\.2/);
      expect(net).toMatch(/nameserver 10\.0\.2\.3/);
      const modules = (await exec('for m in virtio_net 9pnet_virtio virtiofs fuse overlay ext4 binfmt_misc qemu_fw_cfg; do [ -d /sys/module/$m ] && echo $m; done')).stdout;
      expect(modules.trim().split('\n')).toEqual(['virtio_net', '9pnet_virtio', 'virtiofs', 'fuse', 'overlay', 'ext4', 'binfmt_misc', 'qemu_fw_cfg']);
      expect((await exec('cat /proc/sys/fs/binfmt_misc/qemu-aarch64 | head -1')).stdout).toBe('enabled\n');
    }, 60_000);

    it('powers off when asked and leaves no QEMU process or VM directory behind', async () => {
      expect(vm).toBeDefined();
      const pid = Number(fs.readFileSync(vm!.workdir.pidFile, 'utf8'));
      await vm!.shutdown();
      // Exit code 0 and no signal: the guest powered off by itself, QEMU was not killed.
      expect(await vm!.machine.exited).toEqual({ exitCode: 0, signal: undefined });
      expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
      expect(fs.existsSync(vm!.workdir.dir)).toBe(false);
      vm = undefined;
    }, 60_000);
  });
});
