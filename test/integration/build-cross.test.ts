import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { fileOfMember } from '../fixtures/image-member.js';
import { runKiwi } from '../fixtures/run-kiwi.js';
import { tempDir } from '../fixtures/temp-dir.js';

// `kiwi build --target-arch aarch64` natively on an x86_64 host: mmdebstrap bootstraps an
// arm64 root and the build's containers configure it, every arm64 program run by
// qemu-user-static through binfmt_misc (registered by kiwi when missing). The results are
// checked with file and skopeo. The bootstrap layer is cached in the shared test cache.
const canRun = process.getuid?.() === 0 && process.arch === 'x64' && fs.existsSync('/usr/bin/qemu-aarch64-static');
const REPO = path.resolve(__dirname, '../..');
const CACHE = process.env.KIWI_TEST_BUILD_CACHE ?? '/var/tmp/kiwi-build-test-cache';
const LONG = 40 * 60_000;

async function build(description: string, target: string) {
  const done = await runKiwi(['build', '--description', path.join(REPO, 'descriptions', description), '--target-dir', target, '--target-arch', 'aarch64', '--json'], { env: { KIWI_BUILD_CACHE_DIR: CACHE } });
  const line = String(done.stdout).trim().split('\n').pop() ?? '';
  return { exitCode: done.exitCode, stderr: String(done.stderr), json: line ? (JSON.parse(line) as Record<string, unknown>) : undefined };
}

describe.skipIf(!canRun)('kiwi build --target-arch aarch64 (native, qemu-user through binfmt_misc)', () => {
  it('builds debian-minimal as an aarch64 tbz: arm64 programs and packages, named for aarch64', { timeout: LONG }, async () => {
    const target = tempDir('kiwi-cross-tbz-');
    const done = await build('debian-minimal', target);
    expect(done.exitCode, done.stderr).toBe(0);
    expect(done.stderr).toMatch(/aarch64 programs run through binfmt_misc's qemu-aarch64|registered qemu-aarch64 in binfmt_misc from .*flags \w*F/);
    const image = path.join(target, 'debian-minimal.aarch64-1.0.0.tar.xz');
    expect(done.json?.image).toBe(image);
    expect(await fileOfMember(image, './usr/bin/dash')).toMatch(/ELF 64-bit LSB .*ARM aarch64/);
    const packages = fs.readFileSync(path.join(target, 'debian-minimal.aarch64-1.0.0.packages'), 'utf8');
    expect(packages).toMatch(/^less\|None\|[^|]+\|None\|arm64\|None\|None$/m);
    expect(packages).not.toMatch(/\|amd64\|/);
    // config.sh ran in the arm64 root, under the image's own (arm64) bash.
    expect(fs.readFileSync(path.join(target, 'build/image-root.log'), 'utf8')).toContain('configuring debian-minimal-1.0.0 (tbz)');
  });

  it('builds debian-container as an arm64 OCI archive that skopeo reads, on the same bootstrap layer', { timeout: LONG }, async () => {
    const target = tempDir('kiwi-cross-oci-');
    const done = await build('debian-container', target);
    expect(done.exitCode, done.stderr).toBe(0);
    expect(done.json?.bootstrap).toBe('cached');
    const image = path.join(target, 'debian-container.aarch64-1.0.0.oci.tar.xz');
    expect(done.json?.image).toBe(image);
    const inspect = JSON.parse(String((await execa('skopeo', ['inspect', `oci-archive:${image}`])).stdout));
    expect(inspect.Architecture).toBe('arm64');
    expect(inspect.Os).toBe('linux');
  });
});
