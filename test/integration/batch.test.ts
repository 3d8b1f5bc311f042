import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureTestBox, TEST_BOX_CACHE } from '../fixtures/box/built-box.js';
import { processesUnder } from '../fixtures/processes.js';
import { runKiwi } from '../fixtures/run-kiwi.js';
import { slimDescription } from '../fixtures/slim-description.js';
import { tempDir } from '../fixtures/temp-dir.js';

// `kiwi batch` under TCG: three builds in their own VMs of the debian box, two at a time
// on this two-core machine, sharing the box's build cache disk (each VM on its own overlay).
const canRun = process.getuid?.() === 0 && fs.existsSync('/usr/bin/qemu-system-x86_64') && fs.existsSync('/usr/bin/mmdebstrap');
const REPO = path.resolve(__dirname, '../..');
const CACHE_DISK = path.join(TEST_BOX_CACHE, '.disks', 'debian.x86_64');

describe.skipIf(!canRun)('kiwi batch (debian box, TCG)', () => {
  beforeAll(async () => {
    await ensureTestBox();
  }, 30 * 60_000);

  it('runs three builds in parallel, one with a failing config.sh: two verified images, one clear failure, exit 1, nothing left running', { timeout: 40 * 60_000 }, async () => {
    const work = tempDir('kiwi-batch-');
    const runtime = tempDir('kiwi-rt-');
    const batch = path.join(work, 'batch.yaml');
    fs.writeFileSync(
      batch,
      [
        'builds:',
        `  - name: rootfs`,
        `    description: ${slimDescription('debian-minimal')}`,
        '    target-dir: out/rootfs',
        `  - name: broken`,
        `    description: ${slimDescription('debian-minimal', '#!/bin/bash\necho "no such service" >&2\nexit 4\n')}`,
        '    target-dir: out/broken',
        `  - name: container`,
        `    description: ${slimDescription('debian-container')}`,
        '    target-dir: out/container',
        '    sharing: virtiofs',
      ].join('\n'),
    );
    const done = await runKiwi(['batch', batch, '--no-update-check', '--json'], { env: { KIWI_BOXED_CACHE_DIR: TEST_BOX_CACHE, XDG_RUNTIME_DIR: runtime } });
    const stderr = String(done.stderr);
    expect(done.exitCode, stderr).toBe(1);
    const result = JSON.parse(String(done.stdout)) as { concurrency: number; builds: { name: string; status: string; result?: { image: string }; error?: { message: string; exitCode: number } }[] };
    // Two 2-vCPU VMs per two host cores: at least two at a time.
    expect(result.concurrency).toBeGreaterThanOrEqual(2);
    expect(result.builds.map((build) => [build.name, build.status]), errorsOf(result.builds)).toEqual([['rootfs', 'built'], ['broken', 'failed'], ['container', 'built']]);
    // Plain progress lines in CI logs, one task per build.
    expect(stderr).toMatch(new RegExp(`kiwi: 3 builds, ${result.concurrency} at a time`));
    // The failed build's own error (with the console's last lines when its box failed) says why if this does not match.
    expect(stderr, result.builds[1]?.error?.message).toMatch(/broken: failed in .*config/);

    const rootfs = path.join(work, 'out/rootfs/debian-minimal.x86_64-1.0.0.tar.xz');
    expect(result.builds[0]!.result?.image).toBe(rootfs);
    expect(String((await execa('tar', ['-tJf', rootfs])).stdout).split('\n')).toContain('./etc/motd');
    const container = path.join(work, 'out/container/debian-container.x86_64-1.0.0.oci.tar.xz');
    expect(JSON.parse(String((await execa('skopeo', ['inspect', `oci-archive:${container}`])).stdout)).Architecture).toBe('amd64');
    expect(result.builds[1]!.error).toMatchObject({ exitCode: 1 });
    expect(result.builds[1]!.error!.message).toMatch(/config/);
    expect(fs.readFileSync(path.join(work, 'out/broken/build/image-root.log'), 'utf8')).toContain('no such service');
    expect(fs.readdirSync(path.join(work, 'out/broken'))).toEqual(['build']);

    expect(processesUnder(runtime, /^(qemu-system|\/usr\/lib\/qemu\/virtiofsd)/)).toEqual([]);
    expect(fs.readdirSync(path.join(runtime, 'kiwi', 'vms'))).toEqual([]);
    expect([...fs.readdirSync(path.join(CACHE_DISK, 'overlays')), ...fs.readdirSync(path.join(CACHE_DISK, 'users'))]).toEqual([]);
  });

  it('--pack: two builds and a failing one in one VM, each in its own container held to its share of memory', { timeout: 40 * 60_000 }, async () => {
    const work = tempDir('kiwi-batch-pack-');
    const runtime = tempDir('kiwi-rt-');
    const batch = path.join(work, 'batch.yaml');
    // The failing config.sh reports the memory.max of its container's cgroup (the box's cgroup v2).
    const broken = slimDescription('debian-minimal', '#!/bin/bash\ncgroup=$(cut -d: -f3 /proc/self/cgroup)\necho "limit $(cat /sys/fs/cgroup$cgroup/memory.max)"\nexit 4\n');
    fs.writeFileSync(
      batch,
      [
        'builds:',
        `  - {name: rootfs, description: ${slimDescription('debian-minimal')}, target-dir: out/rootfs}`,
        `  - {name: broken, description: ${broken}, target-dir: out/broken}`,
        `  - {name: container, description: ${slimDescription('debian-container')}, target-dir: out/container}`,
      ].join('\n'),
    );
    const done = await runKiwi(['batch', batch, '--pack', '--no-update-check', '--json'], { env: { KIWI_BOXED_CACHE_DIR: TEST_BOX_CACHE, XDG_RUNTIME_DIR: runtime } });
    const stderr = String(done.stderr);
    expect(done.exitCode, stderr).toBe(1);
    expect(stderr).toMatch(/kiwi: 3 builds in 1 VM \(3 builds, \d+ MiB\), 1 VM at a time/);
    // One VM booted, its host steps reported to each build.
    expect(stderr.match(/booting debian \(x86_64, 9p shares, 3 builds\)/g)?.length).toBeGreaterThanOrEqual(1);
    const result = JSON.parse(String(done.stdout)) as { builds: { name: string; status: string; result?: { image: string }; error?: { message: string } }[] };
    expect(result.builds.map((build) => [build.name, build.status]), errorsOf(result.builds)).toEqual([['rootfs', 'built'], ['broken', 'failed'], ['container', 'built']]);
    expect(String((await execa('tar', ['-tJf', result.builds[0]!.result!.image])).stdout).split('\n')).toContain('./etc/motd');
    expect(JSON.parse(String((await execa('skopeo', ['inspect', `oci-archive:${result.builds[2]!.result!.image}`])).stdout)).Architecture).toBe('amd64');
    const limit = /limit (\d+)/.exec(fs.readFileSync(path.join(work, 'out/broken/build/image-root.log'), 'utf8'))?.[1];
    expect(Number(limit)).toBeGreaterThan(256 * 1024 ** 2);
    expect(Number(limit)).toBeLessThan(4 * 1024 ** 3);
    expect(fs.readdirSync(path.join(work, 'out/broken'))).toEqual(['build']);
    expect(processesUnder(runtime, /^(qemu-system|\/usr\/lib\/qemu\/virtiofsd)/)).toEqual([]);
    expect(fs.readdirSync(path.join(runtime, 'kiwi', 'vms'))).toEqual([]);
    expect([...fs.readdirSync(path.join(CACHE_DISK, 'overlays')), ...fs.readdirSync(path.join(CACHE_DISK, 'users'))]).toEqual([]);
  });

  it('checks every build of the file before any box boots (exit 2, the build named)', async () => {
    const work = tempDir('kiwi-batch-bad-');
    const batch = path.join(work, 'batch.yaml');
    fs.writeFileSync(batch, `builds:\n  - description: ${path.join(REPO, 'descriptions/debian-minimal')}\n    target-dir: out/a\n  - name: wrong\n    description: ${path.join(REPO, 'descriptions/debian-minimal')}\n    target-dir: out/b\n    type: iso\n`);
    const runtime = tempDir('kiwi-rt-');
    const done = await runKiwi(['batch', batch, '--no-update-check'], { env: { KIWI_BOXED_CACHE_DIR: TEST_BOX_CACHE, XDG_RUNTIME_DIR: runtime } });
    expect(done.exitCode).toBe(2);
    expect(String(done.stderr)).toMatch(/build wrong: invalid build arguments/);
    expect(fs.existsSync(path.join(runtime, 'kiwi', 'vms'))).toBe(false);
  });
});

/** Each failed build's error, so an unexpected failure says why. */
function errorsOf(builds: { name: string; error?: { message: string } }[]): string {
  return builds.flatMap((build) => (build.error ? [`${build.name}: ${build.error.message}`] : [])).join('\n');
}
