import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { hostArch } from '../../src/common/arch.js';
import { ensureTestBox, TEST_BOX_CACHE } from '../fixtures/box/built-box.js';
import { fileOfMember } from '../fixtures/image-member.js';
import { runKiwi } from '../fixtures/run-kiwi.js';
import { slimDescription } from '../fixtures/slim-description.js';
import { tempDir } from '../fixtures/temp-dir.js';

// aarch64 images from `kiwi boxbuild` on this x86_64 host. --cross vm boots the aarch64
// debian box under TCG and builds natively arm64 inside it (the aarch64 box's own build
// cache disk); the results are checked with file and skopeo on the host.
// Under TCG every build here is slow: the aarch64 box is built first (15–22 minutes of
// qemu-user here), a cold build in it took 29 minutes, and --cross binfmt in the x86_64 box
// is emulation inside emulation (one bootstrap had not finished after 58 minutes). So these
// run only with KIWI_TEST_SLOW=1, not in CI's 90 minutes; --cross binfmt is the same builder
// as `kiwi build --target-arch aarch64`, which build-cross.test.ts runs on every run.
const canRun = process.getuid?.() === 0 && hostArch() === 'x86_64' && fs.existsSync('/usr/bin/qemu-system-aarch64') && fs.existsSync('/usr/lib/binfmt.d/qemu-aarch64.conf');
const REPO = path.resolve(__dirname, '../..');
const BUILD_TIMEOUT = 45 * 60_000;
const SLOW = process.env.KIWI_TEST_SLOW === '1';

async function boxbuild(method: 'vm' | 'binfmt', description: string, target: string) {
  const done = await runKiwi(['boxbuild', '--box', 'debian', '--no-update-check', '--aarch64', '--cross', method, '--json', '--', '--description', description, '--target-dir', target], {
    env: { KIWI_BOXED_CACHE_DIR: TEST_BOX_CACHE, XDG_RUNTIME_DIR: tempDir('kiwi-rt-') },
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

  it('--cross binfmt: debian-minimal as an aarch64 tbz built in the x86_64 box through qemu-user', { timeout: 3 * 60 * 60_000 }, async () => {
    await ensureTestBox('x86_64');
    const target = tempDir('kiwi-boxbuild-binfmt-tbz-');
    const done = await boxbuild('binfmt', slimDescription('debian-minimal'), target);
    expect(done.exitCode, done.stderr).toBe(0);
    expect(done.stderr).toMatch(/booting debian \(x86_64, 9p shares\)/);
    expect(await fileOfMember(path.join(target, 'debian-minimal.aarch64-1.0.0.tar.xz'), './usr/bin/dash')).toMatch(/ARM aarch64/);
  });
});
