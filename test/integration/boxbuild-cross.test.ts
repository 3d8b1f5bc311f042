import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { bootstrapLayerPaths, buildCachePaths } from '../../src/builder/paths.js';
import { hostArch } from '../../src/common/arch.js';
import { ensureTestBox, TEST_BOX_CACHE } from '../fixtures/box/built-box.js';
import { cacheWithSeededDisk } from '../fixtures/box/seeded-cache-disk.js';
import { fileOfMember } from '../fixtures/image-member.js';
import { runKiwi } from '../fixtures/run-kiwi.js';
import { slimDescription } from '../fixtures/slim-description.js';
import { tempDir } from '../fixtures/temp-dir.js';

// aarch64 images from `kiwi boxbuild` on this x86_64 host, checked with file and skopeo.
// --cross binfmt builds in the x86_64 box, every arm64 program run by the box's qemu-user
// (under TCG: emulation inside emulation). Its bootstrap that way took hours here (not
// finished after 58 minutes), so the test gives the box's build cache disk the arm64
// bootstrap layer of a native `kiwi build --target-arch aarch64`, made the same way from the
// same inputs, and the box runs the rest of the build through binfmt: apt, the packages and
// image phases, the archive. It runs on every run.
// --cross vm boots the aarch64 debian box under TCG and builds natively arm64 inside it:
// the aarch64 box is built first (6–22 minutes of qemu-user here) and a cold build in it
// took 29 minutes, so those run only with KIWI_TEST_SLOW=1, not in CI's 90 minutes.
const canRun = process.getuid?.() === 0 && hostArch() === 'x86_64' && fs.existsSync('/usr/bin/qemu-system-aarch64') && fs.existsSync('/usr/lib/binfmt.d/qemu-aarch64.conf');
const REPO = path.resolve(__dirname, '../..');
const BUILD_TIMEOUT = 45 * 60_000;
const SLOW = process.env.KIWI_TEST_SLOW === '1';
const BUILD_CACHE = process.env.KIWI_TEST_BUILD_CACHE ?? '/var/tmp/kiwi-build-test-cache';
const canRunBinfmt = process.getuid?.() === 0 && hostArch() === 'x86_64' && fs.existsSync('/usr/bin/qemu-aarch64-static');

describe.skipIf(!canRunBinfmt)('kiwi boxbuild --aarch64 --cross binfmt on an x86_64 host', () => {
  const description = slimDescription('debian-minimal');
  const native = tempDir('kiwi-native-arm64-');
  let boxCache: string;
  beforeAll(async () => {
    await ensureTestBox('x86_64');
    // The bootstrap layer: made (or found in the shared cache) by the native build of the same description.
    const done = await runKiwi(['build', '--description', description, '--target-dir', native, '--target-arch', 'aarch64'], { env: { KIWI_BUILD_CACHE_DIR: BUILD_CACHE } });
    if (done.exitCode !== 0) throw new Error(`the native arm64 build failed:\n${String(done.stderr)}`);
    const layerKey = (JSON.parse(fs.readFileSync(path.join(native, 'kiwi.result.json'), 'utf8')) as { build: { bootstrapLayer: string } }).build.bootstrapLayer;
    boxCache = await cacheWithSeededDisk('x86_64', [bootstrapLayerPaths(buildCachePaths(BUILD_CACHE), layerKey).dir]);
  }, BUILD_TIMEOUT);

  it('debian-minimal (without its image packages) as an aarch64 tbz built in the x86_64 box through qemu-user, the same packages as natively', { timeout: BUILD_TIMEOUT }, async () => {
    const target = tempDir('kiwi-boxbuild-binfmt-tbz-');
    const done = await boxbuild('binfmt', description, target, boxCache);
    expect(done.exitCode, done.stderr).toBe(0);
    expect(done.stderr).toMatch(/booting debian \(x86_64, 9p shares\)/);
    expect(done.stderr).toMatch(/aarch64 programs run through binfmt_misc's qemu-aarch64|registered qemu-aarch64 in binfmt_misc/);
    expect(done.json).toMatchObject({ type: 'build', bootstrap: 'cached' });
    const image = path.join(target, 'debian-minimal.aarch64-1.0.0.tar.xz');
    expect(await fileOfMember(image, './usr/bin/dash')).toMatch(/ELF 64-bit LSB .*ARM aarch64/);
    const packages = fs.readFileSync(path.join(target, 'debian-minimal.aarch64-1.0.0.packages'), 'utf8');
    expect(packages).toMatch(/^dash\|None\|[^|]+\|None\|arm64\|None\|None$/m);
    expect(packages).toBe(fs.readFileSync(path.join(native, 'debian-minimal.aarch64-1.0.0.packages'), 'utf8'));
  });

  it('debian-container as an arm64 OCI archive that skopeo reads, its package installed through qemu-user in the box', { timeout: BUILD_TIMEOUT }, async () => {
    const target = tempDir('kiwi-boxbuild-binfmt-oci-');
    const done = await boxbuild('binfmt', path.join(REPO, 'descriptions/debian-container'), target, boxCache);
    expect(done.exitCode, done.stderr).toBe(0);
    const image = path.join(target, 'debian-container.aarch64-1.0.0.oci.tar.xz');
    const inspect = JSON.parse(String((await execa('skopeo', ['inspect', `oci-archive:${image}`])).stdout));
    expect(inspect.Architecture).toBe('arm64');
    expect(fs.readFileSync(path.join(target, 'debian-container.aarch64-1.0.0.packages'), 'utf8')).toMatch(/^less\|None\|[^|]+\|None\|arm64\|None\|None$/m);
  });
});

async function boxbuild(method: 'vm' | 'binfmt', description: string, target: string, boxCache = TEST_BOX_CACHE) {
  const done = await runKiwi(['boxbuild', '--box', 'debian', '--no-update-check', '--aarch64', '--cross', method, '--json', '--', '--description', description, '--target-dir', target], {
    env: { KIWI_BOXED_CACHE_DIR: boxCache, XDG_RUNTIME_DIR: tempDir('kiwi-rt-') },
  });
  const line = String(done.stdout).trim().split('\n').pop() ?? '';
  return { exitCode: done.exitCode, stderr: String(done.stderr), json: line ? (JSON.parse(line) as Record<string, unknown>) : undefined };
}

describe.skipIf(!(canRun && SLOW))('kiwi boxbuild --aarch64 on an x86_64 host (KIWI_TEST_SLOW=1)', () => {
  beforeAll(async () => {
    await ensureTestBox('aarch64');
  }, BUILD_TIMEOUT);

  it('--cross vm: debian-minimal (without its image packages) as an aarch64 tbz built in the aarch64 box', { timeout: BUILD_TIMEOUT }, async () => {
    const target = tempDir('kiwi-boxbuild-vm-tbz-');
    const done = await boxbuild('vm', slimDescription('debian-minimal'), target);
    expect(done.exitCode, done.stderr).toBe(0);
    expect(done.stderr).toMatch(/booting debian \(aarch64, 9p shares\)/);
    const image = path.join(target, 'debian-minimal.aarch64-1.0.0.tar.xz');
    expect(done.json).toMatchObject({ type: 'build', image });
    expect(await fileOfMember(image, './usr/bin/dash')).toMatch(/ELF 64-bit LSB .*ARM aarch64/);
    expect(fs.readFileSync(path.join(target, 'debian-minimal.aarch64-1.0.0.packages'), 'utf8')).toMatch(/^dash\|None\|[^|]+\|None\|arm64\|None\|None$/m);
  });

  it('--cross vm: debian-container as an arm64 OCI archive that skopeo reads, on the cached bootstrap layer', { timeout: BUILD_TIMEOUT }, async () => {
    const target = tempDir('kiwi-boxbuild-vm-oci-');
    const done = await boxbuild('vm', path.join(REPO, 'descriptions/debian-container'), target);
    expect(done.exitCode, done.stderr).toBe(0);
    expect(done.json?.bootstrap).toBe('cached');
    const inspect = JSON.parse(String((await execa('skopeo', ['inspect', `oci-archive:${path.join(target, 'debian-container.aarch64-1.0.0.oci.tar.xz')}`])).stdout));
    expect(inspect.Architecture).toBe('arm64');
  });
});
