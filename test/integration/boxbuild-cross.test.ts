import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { bootstrapLayerPaths, buildCachePaths } from '../../src/builder/paths.js';
import { hostArch } from '../../src/common/arch.js';
import { canBuildAarch64Box, ensureTestBox } from '../fixtures/box/built-box.js';
import { cacheWithSeededDisk } from '../fixtures/box/seeded-cache-disk.js';
import { fileOfMember } from '../fixtures/image-member.js';
import { runKiwi } from '../fixtures/run-kiwi.js';
import { slimDescription } from '../fixtures/slim-description.js';
import { tempDir } from '../fixtures/temp-dir.js';

// aarch64 images from `kiwi boxbuild` on this x86_64 host, by both methods, checked with
// file and skopeo. --cross binfmt builds in the x86_64 box, every arm64 program run by the
// box's qemu-user (under TCG: emulation inside emulation); --cross vm boots the aarch64
// debian box under TCG and builds natively arm64 inside it. A bootstrap through binfmt in the
// box did not finish in 58 minutes here and one in the aarch64 box 18 minutes,
// so each box's build cache disk first gets the arm64 bootstrap layer of a native `kiwi build
// --target-arch aarch64`, made the same way from the same inputs; each box runs the rest of
// the build: apt, the packages and image phases, the archive. The aarch64 box is built
// first when the test cache has none (6–22 minutes of qemu-user here, once per recipe).
const canRun = canBuildAarch64Box;
const REPO = path.resolve(__dirname, '../..');
const BUILD_TIMEOUT = 45 * 60_000;
const BUILD_CACHE = process.env.KIWI_TEST_BUILD_CACHE ?? '/var/tmp/kiwi-build-test-cache';
const canRunBinfmt = process.getuid?.() === 0 && hostArch() === 'x86_64' && fs.existsSync('/usr/bin/qemu-aarch64-static');

/** The slim debian-minimal built natively for arm64, once for both methods. */
interface NativeArm64Build {
  description: string;
  target: string;
  /** Its bootstrap layer in the native build cache. */
  layer: string;
}
let nativeBuild: Promise<NativeArm64Build> | undefined;
function nativeArm64Build(): Promise<NativeArm64Build> {
  nativeBuild ??= (async () => {
    const description = slimDescription('debian-minimal');
    const target = tempDir('kiwi-native-arm64-');
    // The bootstrap layer: made (or found in the shared cache) by the native build of the same description.
    const done = await runKiwi(['build', '--description', description, '--target-dir', target, '--target-arch', 'aarch64'], { env: { KIWI_BUILD_CACHE_DIR: BUILD_CACHE } });
    if (done.exitCode !== 0) throw new Error(`the native arm64 build failed:\n${String(done.stderr)}`);
    const layerKey = (JSON.parse(fs.readFileSync(path.join(target, 'kiwi.result.json'), 'utf8')) as { build: { bootstrapLayer: string } }).build.bootstrapLayer;
    return { description, target, layer: bootstrapLayerPaths(buildCachePaths(BUILD_CACHE), layerKey).dir };
  })();
  return nativeBuild;
}

/** The slim tbz's checks, whichever method built it: an arm64 tree, the same packages as the native build's. */
async function expectSlimArm64Tbz(target: string, native: string): Promise<void> {
  const image = path.join(target, 'debian-minimal.aarch64-1.0.0.tar.xz');
  expect(await fileOfMember(image, './usr/bin/dash')).toMatch(/ELF 64-bit LSB .*ARM aarch64/);
  const packages = fs.readFileSync(path.join(target, 'debian-minimal.aarch64-1.0.0.packages'), 'utf8');
  expect(packages).toMatch(/^dash\|None\|[^|]+\|None\|arm64\|None\|None$/m);
  expect(packages).toBe(fs.readFileSync(path.join(native, 'debian-minimal.aarch64-1.0.0.packages'), 'utf8'));
}

/** debian-container's checks: skopeo reads an arm64 image, and `less` went in as an arm64 package. */
async function expectArm64Container(target: string): Promise<void> {
  const image = path.join(target, 'debian-container.aarch64-1.0.0.oci.tar.xz');
  const inspect = JSON.parse(String((await execa('skopeo', ['inspect', `oci-archive:${image}`])).stdout));
  expect(inspect.Architecture).toBe('arm64');
  expect(fs.readFileSync(path.join(target, 'debian-container.aarch64-1.0.0.packages'), 'utf8')).toMatch(/^less\|None\|[^|]+\|None\|arm64\|None\|None$/m);
}

describe.skipIf(!canRunBinfmt)('kiwi boxbuild --aarch64 --cross binfmt on an x86_64 host', () => {
  let native: NativeArm64Build;
  let boxCache: string;
  beforeAll(async () => {
    await ensureTestBox('x86_64');
    native = await nativeArm64Build();
    boxCache = await cacheWithSeededDisk('x86_64', [native.layer]);
  }, BUILD_TIMEOUT);

  it('debian-minimal (without its image packages) as an aarch64 tbz built in the x86_64 box through qemu-user, the same packages as natively', { timeout: BUILD_TIMEOUT }, async () => {
    const target = tempDir('kiwi-boxbuild-binfmt-tbz-');
    const done = await boxbuild('binfmt', native.description, target, boxCache);
    expect(done.exitCode, done.stderr).toBe(0);
    expect(done.stderr).toMatch(/booting debian \(x86_64, 9p shares\)/);
    expect(done.stderr).toMatch(/aarch64 programs run through binfmt_misc's qemu-aarch64|registered qemu-aarch64 in binfmt_misc/);
    expect(done.json).toMatchObject({ type: 'build', bootstrap: 'cached' });
    await expectSlimArm64Tbz(target, native.target);
  });

  it('debian-container as an arm64 OCI archive that skopeo reads, its package installed through qemu-user in the box', { timeout: BUILD_TIMEOUT }, async () => {
    const target = tempDir('kiwi-boxbuild-binfmt-oci-');
    const done = await boxbuild('binfmt', path.join(REPO, 'descriptions/debian-container'), target, boxCache);
    expect(done.exitCode, done.stderr).toBe(0);
    await expectArm64Container(target);
  });
});

async function boxbuild(method: 'vm' | 'binfmt', description: string, target: string, boxCache: string) {
  const done = await runKiwi(['boxbuild', '--box', 'debian', '--no-update-check', '--aarch64', '--cross', method, '--json', '--', '--description', description, '--target-dir', target], {
    env: { KIWI_BOXED_CACHE_DIR: boxCache, XDG_RUNTIME_DIR: tempDir('kiwi-rt-') },
  });
  const line = String(done.stdout).trim().split('\n').pop() ?? '';
  return { exitCode: done.exitCode, stderr: String(done.stderr), json: line ? (JSON.parse(line) as Record<string, unknown>) : undefined };
}

describe.skipIf(!canRun)('kiwi boxbuild --aarch64 --cross vm on an x86_64 host', () => {
  let native: NativeArm64Build;
  let boxCache: string;
  beforeAll(async () => {
    await ensureTestBox('aarch64');
    native = await nativeArm64Build();
    boxCache = await cacheWithSeededDisk('aarch64', [native.layer]);
  }, BUILD_TIMEOUT);

  it('debian-minimal (without its image packages) as an aarch64 tbz built in the aarch64 box, the same packages as natively', { timeout: BUILD_TIMEOUT }, async () => {
    const target = tempDir('kiwi-boxbuild-vm-tbz-');
    const done = await boxbuild('vm', native.description, target, boxCache);
    expect(done.exitCode, done.stderr).toBe(0);
    expect(done.stderr).toMatch(/booting debian \(aarch64, 9p shares\)/);
    expect(done.json).toMatchObject({ type: 'build', bootstrap: 'cached', image: path.join(target, 'debian-minimal.aarch64-1.0.0.tar.xz') });
    await expectSlimArm64Tbz(target, native.target);
  });

  it('debian-container as an arm64 OCI archive that skopeo reads, its package installed in the aarch64 box', { timeout: BUILD_TIMEOUT }, async () => {
    const target = tempDir('kiwi-boxbuild-vm-oci-');
    const done = await boxbuild('vm', path.join(REPO, 'descriptions/debian-container'), target, boxCache);
    expect(done.exitCode, done.stderr).toBe(0);
    expect(done.json?.bootstrap).toBe('cached');
    await expectArm64Container(target);
  });
});
