import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureTestBox, TEST_BOX_CACHE } from '../fixtures/box/built-box.js';
import { processesUnder, vmDirsUnder } from '../fixtures/processes.js';
import { localRepoDescription } from '../fixtures/local-repo-description.js';
import { KIWI_BIN, runKiwi } from '../fixtures/run-kiwi.js';
import { slimDescription } from '../fixtures/slim-description.js';
import { tempDir } from '../fixtures/temp-dir.js';
import { waitFor } from '../fixtures/wait-for.js';

// `kiwi boxbuild` end to end: the debian box booted by QEMU under TCG, the description and
// target dir shared with 9p, the in-box runtime uploaded over SFTP and the image built in
// the box's containers, the result checked with tar and skopeo on the host. The box's
// build cache disk lives in the test box cache, so only the first build of a fresh cache
// makes the bootstrap layer (several minutes under TCG); the later ones reuse it.
const canRun = process.getuid?.() === 0 && fs.existsSync('/usr/bin/qemu-system-x86_64') && fs.existsSync('/usr/bin/mmdebstrap');
const REPO = path.resolve(__dirname, '../..');
const BUILD_TIMEOUT = 30 * 60_000;
const CACHE_DISK = path.join(TEST_BOX_CACHE, '.disks', 'debian.x86_64');

/** Each test gets its own runtime dir, so its VMs' files and QEMU command lines are its own. */
function boxEnv(): Record<string, string> {
  return { KIWI_BOXED_CACHE_DIR: TEST_BOX_CACHE, XDG_RUNTIME_DIR: tempDir('kiwi-rt-') };
}

async function boxbuild(buildArgs: string[], env = boxEnv(), boxArgs: string[] = []) {
  const done = await runKiwi(['boxbuild', '--box', 'debian', '--no-update-check', '--json', ...boxArgs, '--', ...buildArgs], { env });
  const line = String(done.stdout).trim().split('\n').pop() ?? '';
  return { exitCode: done.exitCode, stderr: String(done.stderr), json: line ? (JSON.parse(line) as Record<string, unknown>) : undefined, env };
}

/** What a boxbuild leaves running or mounted once it has exited: nothing, if it cleaned up. */
function leftovers(env: Record<string, string>): string[] {
  const runtime = env.XDG_RUNTIME_DIR!;
  return [
    ...processesUnder(runtime, /^(qemu-system|\/usr\/lib\/qemu\/virtiofsd)/),
    ...vmDirsUnder(runtime).map((id) => `VM directory ${id}`),
    ...fs.readdirSync(path.join(CACHE_DISK, 'overlays')).map((name) => `cache disk overlay ${name}`),
    ...fs.readdirSync(path.join(CACHE_DISK, 'users')).map((name) => `cache disk user mark ${name}`),
    ...(fs.existsSync(path.join(CACHE_DISK, 'lock')) ? ['cache disk still locked'] : []),
  ];
}

/**
 * Starts `kiwi boxbuild` of `description` into `target` and resolves once its progress
 * reaches `step`; `output.stderr` keeps growing while it runs.
 */
async function boxbuildReaching(step: RegExp, description: string, target: string, env: Record<string, string>) {
  const child = execa(process.execPath, [KIWI_BIN, 'boxbuild', '--box', 'debian', '--no-update-check', '--', '--description', description, '--target-dir', target], {
    env: { CI: '1', ...env },
    reject: false,
  });
  const output = { stderr: '' };
  child.stderr.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
  // A kiwi that ended before the step (a boot that failed) ends the wait at once, with its stderr in the failure.
  for (const deadline = Date.now() + 10 * 60_000; !step.test(output.stderr) && child.exitCode === null && Date.now() < deadline; ) await sleep(200);
  expect(output.stderr).toMatch(step);
  return { child, output };
}

/** A config.sh that fails after a line on each stream. */
const FAILING_CONFIG_SH = '#!/bin/bash\necho "setting up the image"\necho "no such service" >&2\nexit 3\n';

describe.skipIf(!canRun)('kiwi boxbuild (debian box, TCG)', () => {
  /** The tbz the second test builds; kiwi run --box runs in it. */
  let builtImage: string | undefined;

  beforeAll(async () => {
    await ensureTestBox();
  }, 30 * 60_000);

  it('checks the build arguments and the description on the host before any box boots (exit 2, no VM)', async () => {
    const env = boxEnv();
    const target = tempDir('kiwi-boxbuild-bad-');
    const started = Date.now();
    const cases = await Promise.all([
      boxbuild(['--description', path.join(REPO, 'descriptions/debian-minimal'), '--target-dir', target, '--type', 'iso'], env),
      boxbuild(['--description', path.join(REPO, 'descriptions/no-such'), '--target-dir', target], env),
      boxbuild(['--description', path.join(REPO, 'descriptions/debian-minimal'), '--target-dir', '/usr/lib/out'], env),
      runKiwi(['boxbuild', '--', '--description', 'x', '--target-dir', 'y'], { env }).then((done) => ({ exitCode: done.exitCode, stderr: String(done.stderr) })),
      boxbuild(['--description', path.join(REPO, 'descriptions/debian-minimal'), '--target-dir', target], env, ['--box-debug']),
      boxbuild(['--description', path.join(REPO, 'descriptions/debian-minimal'), '--target-dir', target, '--target-arch', 'x86_64'], env, ['--aarch64']),
    ]);
    expect(cases.map((done) => done.exitCode)).toEqual([2, 2, 2, 2, 2, 2]);
    expect(cases[0]!.stderr).toMatch(/--type: "iso" is not a type kiwi builds/);
    expect(cases[1]!.stderr).toMatch(/no-such/);
    expect(cases[2]!.stderr).toMatch(/\/usr\/lib\/out cannot be shared into the box at the same path/);
    expect(cases[3]!.stderr).toMatch(/error: no box given/);
    expect(cases[4]!.stderr).toMatch(/--box-debug opens a shell in the box and needs a terminal/);
    expect(cases[5]!.stderr).toMatch(/--aarch64 and --target-arch x86_64 disagree/);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(fs.existsSync(path.join(env.XDG_RUNTIME_DIR!, 'kiwi', 'vms'))).toBe(false);
  });

  it('builds debian-minimal in the box into a .tar.xz that tar reads, keeping the target dir\'s other files', { timeout: BUILD_TIMEOUT }, async () => {
    const target = tempDir('kiwi-boxbuild-tbz-');
    fs.writeFileSync(path.join(target, 'notes.txt'), 'the user\'s own file');
    const done = await boxbuild(['--description', path.join(REPO, 'descriptions/debian-minimal'), '--target-dir', target]);
    expect(done.exitCode, done.stderr).toBe(0);
    const image = path.join(target, 'debian-minimal.x86_64-1.0.0.tar.xz');
    expect(done.json).toMatchObject({ type: 'build', image, result: path.join(target, 'kiwi.result.json') });
    expect(done.json?.compressionDeferred).toBeUndefined();
    // The host's steps around the box's, in order.
    expect(done.stderr).toMatch(/kiwi: box: booting debian \(x86_64, 9p shares\)[\s\S]*kiwi: bootstrap: [\s\S]*kiwi: config done[\s\S]*kiwi: compress: /);
    const listing = String((await execa('tar', ['-tvJf', image])).stdout).split('\n');
    const entry = (name: string) => listing.find((line) => line.endsWith(` ${name}`) || line.includes(` ${name} -> `));
    expect(entry('./etc/os-release')).toMatch(/^l.* 0\/0 .* -> \.\.\/usr\/lib\/os-release$/);
    expect(entry('./etc/motd')).toMatch(/^-rw-r--r-- 0\/0 /);
    expect(entry('./usr/bin/less')).toBeDefined();
    expect(listing.filter((line) => /\/var\/lib\/apt\/lists\/.*_Packages$/.test(line))).toEqual([]);
    const motd = String((await execa('tar', ['-xJOf', image, './etc/motd'], { stripFinalNewline: false })).stdout);
    expect(motd).toBe(fs.readFileSync(path.join(REPO, 'descriptions/debian-minimal/root/etc/motd'), 'utf8'));
    const result = JSON.parse(fs.readFileSync(path.join(target, 'kiwi.result.json'), 'utf8'));
    expect(result.result_files.root_archive).toMatchObject({ filename: image, compress: false });
    expect(fs.readFileSync(path.join(target, 'debian-minimal.x86_64-1.0.0.packages'), 'utf8')).toMatch(/^less\|None\|[^|]+\|None\|amd64\|None\|None$/m);
    expect(fs.readFileSync(path.join(target, 'build/image-root.log'), 'utf8')).toContain('configuring debian-minimal-1.0.0 (tbz)');
    expect(fs.readdirSync(target).sort()).toEqual(['build', 'debian-minimal.x86_64-1.0.0.packages', 'debian-minimal.x86_64-1.0.0.tar.xz', 'kiwi.result.json', 'notes.txt']);
    expect(leftovers(done.env)).toEqual([]);
    builtImage = image;
  });

  it('kiwi run --box runs a command in a container of the built image inside the box, with its output and exit code', { timeout: BUILD_TIMEOUT }, async () => {
    expect(builtImage, 'needs the image of the test above').toBeDefined();
    const env = boxEnv();
    const data = tempDir('kiwi-run-box-data-');
    fs.writeFileSync(path.join(data, 'input.txt'), 'from the host\n');
    const done = await runKiwi(
      ['run', '--box', 'debian', '--no-update-check', '--image', builtImage!, '--bind', `${data}:/data`, '--memory', '256M', '--',
        'sh', '-c', 'cat /etc/motd >/dev/null && cat /data/input.txt && . /etc/os-release && echo "$ID $VERSION_ID" && echo oops >&2 && cp /data/input.txt /data/copy.txt && exit 7'],
      { env },
    );
    expect(done.exitCode, String(done.stderr)).toBe(7);
    expect(String(done.stdout)).toBe('from the host\ndebian 12');
    expect(String(done.stderr)).toMatch(/^oops$/m);
    expect(String(done.stderr)).toMatch(/kiwi: exit 7 .* peak memory/);
    // The bind is the host directory itself, shared into the box.
    expect(fs.readFileSync(path.join(data, 'copy.txt'), 'utf8')).toBe('from the host\n');
    expect(leftovers(env)).toEqual([]);
  });

  it('installs from a dir:// repository elsewhere on the host, shared into the box at its own path and left as it was', { timeout: BUILD_TIMEOUT }, async () => {
    const repo = tempDir('kiwi-local-repo-');
    const { dir: description } = await localRepoDescription({ outside: repo, debianForBootstrap: true });
    const repoFiles = () => fs.readdirSync(repo).map((name) => `${name} ${fs.statSync(path.join(repo, name)).mtimeMs}`).sort();
    const before = repoFiles();
    const target = tempDir('kiwi-boxbuild-repo-');
    const done = await boxbuild(['--description', description, '--target-dir', target]);
    expect(done.exitCode, done.stderr).toBe(0);
    // Only Debian's repositories bootstrap: debian-minimal's layer on the box's cache disk.
    expect(done.json?.bootstrap).toBe('cached');
    const image = path.join(target, 'debian-minimal.x86_64-1.0.0.tar.xz');
    expect(String((await execa('tar', ['-xJOf', image, './usr/share/kiwi-hello/version'])).stdout)).toBe('1');
    expect(fs.readFileSync(path.join(target, 'debian-minimal.x86_64-1.0.0.packages'), 'utf8')).toMatch(/^kiwi-hello\|None\|1\|None\|all\|/m);
    expect(repoFiles()).toEqual(before);
    expect(leftovers(done.env)).toEqual([]);
  });

  it('stops on Ctrl-C during the build: exit 130, no VM, lock or half-written result left', { timeout: BUILD_TIMEOUT }, async () => {
    const env = boxEnv();
    const target = tempDir('kiwi-boxbuild-int-');
    fs.writeFileSync(path.join(target, 'notes.txt'), 'keep me');
    const { child, output } = await boxbuildReaching(/kiwi: (sources|packages): /, path.join(REPO, 'descriptions/debian-minimal'), target, env);
    child.kill('SIGINT');
    const done = await child;
    expect(done.exitCode, output.stderr).toBe(130);
    expect(output.stderr).toMatch(/interrupted by SIGINT; cleaned up/);
    expect(leftovers(env)).toEqual([]);
    expect(fs.readdirSync(target).filter((name) => name !== 'build').sort()).toEqual(['notes.txt']);
  });

  it('a VM killed during the build: exit 3 naming QEMU\'s signal, nothing left behind, and the next build into the same target works', { timeout: BUILD_TIMEOUT }, async () => {
    const env = boxEnv();
    const description = slimDescription('debian-minimal');
    const target = tempDir('kiwi-boxbuild-killed-');
    fs.writeFileSync(path.join(target, 'notes.txt'), 'keep me');
    const { child, output } = await boxbuildReaching(/kiwi: sources: /, description, target, env);
    const [vm] = vmDirsUnder(env.XDG_RUNTIME_DIR!);
    process.kill(Number(fs.readFileSync(path.join(env.XDG_RUNTIME_DIR!, 'kiwi', 'vms', vm!, 'qemu.pid'), 'utf8')), 'SIGKILL');
    const done = await child;
    expect(done.exitCode, output.stderr).toBe(3);
    expect(output.stderr).toMatch(/^error: the box's VM stopped while kiwi was using it: QEMU was killed by SIGKILL$/m);
    expect(leftovers(env)).toEqual([]);
    expect(fs.readdirSync(target).filter((name) => name !== 'build').sort()).toEqual(['notes.txt']);

    const again = await boxbuild(['--description', description, '--target-dir', target], env);
    expect(again.exitCode, again.stderr).toBe(0);
    const image = path.join(target, 'debian-minimal.x86_64-1.0.0.tar.xz');
    expect(again.json).toMatchObject({ type: 'build', image });
    expect(String((await execa('tar', ['-tJf', image])).stdout).split('\n')).toContain('./etc/os-release');
    expect(fs.readFileSync(path.join(target, 'notes.txt'), 'utf8')).toBe('keep me');
  });

  it('kiwi itself SIGKILLed during the build: QEMU goes with it, and the next build removes the dead run\'s cache disk overlay and works', { timeout: BUILD_TIMEOUT }, async () => {
    const env = boxEnv();
    const description = slimDescription('debian-minimal');
    const target = tempDir('kiwi-boxbuild-sigkill-');
    fs.writeFileSync(path.join(target, 'notes.txt'), 'keep me');
    const { child } = await boxbuildReaching(/kiwi: sources: /, description, target, env);
    child.kill('SIGKILL');
    await child;
    // QEMU notices its parent died; the dead run's overlay and mark stay until the next build.
    expect(await waitFor(() => processesUnder(env.XDG_RUNTIME_DIR!, /^qemu-system/).length === 0, 10_000)).toBe(true);
    expect(fs.readdirSync(path.join(CACHE_DISK, 'overlays'))).toHaveLength(1);

    const again = await boxbuild(['--description', description, '--target-dir', target], env);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(String((await execa('tar', ['-tJf', path.join(target, 'debian-minimal.x86_64-1.0.0.tar.xz')])).stdout).split('\n')).toContain('./etc/os-release');
    expect(fs.readFileSync(path.join(target, 'notes.txt'), 'utf8')).toBe('keep me');
    expect(fs.readdirSync(target).filter((name) => name.startsWith('.'))).toEqual([]);
    expect(leftovers(env)).toEqual([]);
  });

  it('two kiwi boxbuild processes at once: an OCI build that skopeo reads (virtiofs, cached bootstrap layer) and a failing config.sh (exit 1, the step, the log)', { timeout: BUILD_TIMEOUT }, async () => {
    const description = slimDescription('debian-minimal', FAILING_CONFIG_SH);
    const failTarget = tempDir('kiwi-boxbuild-fail-');
    fs.writeFileSync(path.join(failTarget, 'notes.txt'), 'keep me');
    const ociTarget = tempDir('kiwi-boxbuild-oci-');
    const [failed, oci] = await Promise.all([
      boxbuild(['--description', description, '--target-dir', failTarget]),
      boxbuild(['--description', path.join(REPO, 'descriptions/debian-container'), '--target-dir', ociTarget], boxEnv(), ['--virtiofs-sharing']),
    ]);

    expect(failed.exitCode, failed.stderr).toBe(1);
    expect(failed.json).toMatchObject({ type: 'error', exitCode: 1 });
    expect(failed.stderr).toMatch(/config/);
    expect(failed.stderr).toMatch(/no such service/);
    expect(fs.readFileSync(path.join(failTarget, 'build/image-root.log'), 'utf8')).toContain('setting up the image');
    expect(fs.readdirSync(failTarget).sort()).toEqual(['build', 'notes.txt']);
    expect(leftovers(failed.env)).toEqual([]);

    expect(oci.exitCode, oci.stderr).toBe(0);
    // Same repositories and bootstrap packages as debian-minimal: the layer on the box's cache disk.
    expect(oci.json?.bootstrap).toBe('cached');
    const image = path.join(ociTarget, 'debian-container.x86_64-1.0.0.oci.tar.xz');
    expect(oci.json?.image).toBe(image);
    const inspect = JSON.parse(String((await execa('skopeo', ['inspect', `oci-archive:${image}`])).stdout));
    expect(inspect.Architecture).toBe('amd64');
    expect(inspect.Labels['org.opencontainers.image.title']).toBe('debian-container');
    const config = JSON.parse(String((await execa('skopeo', ['inspect', '--config', `oci-archive:${image}`])).stdout));
    expect(config.config.Cmd).toEqual(['/bin/bash']);
    expect(leftovers(oci.env)).toEqual([]);
  });

  it('--box-debug: after a failed build a shell in the box sees the failed root tree and the log; then exit 1 and nothing left', { timeout: BUILD_TIMEOUT }, async () => {
    const description = slimDescription('debian-minimal', FAILING_CONFIG_SH);
    const target = tempDir('kiwi-boxbuild-debug-');
    const env = boxEnv();
    // script(1) gives kiwi a terminal; the shell reads these lines from it once it opens.
    const command = [process.execPath, KIWI_BIN, 'boxbuild', '--box', 'debian', '--no-update-check', '--box-debug', '--', '--description', description, '--target-dir', target].map((word) => `'${word}'`).join(' ');
    const shellInput = 'test -x "$KIWI_FAILED_ROOT/usr/bin/bash" && echo "kept: $(cat "$KIWI_FAILED_ROOT/etc/debian_version" | cut -c1-2)"; grep -c "no such service" "$KIWI_BUILD_LOG" | sed "s/^/failure lines in the log: /"\nexit\n';
    const done = await execa('script', ['-qfec', command, '/dev/null'], { input: shellInput, reject: false, env: { ...env, CI: '1', TERM: 'dumb' } });
    const output = String(done.stdout);
    expect(done.exitCode, output).toBe(1);
    expect(output).toMatch(/--box-debug: the build failed; a shell in the box follows/);
    expect(output).toMatch(/kept: 12/);
    // Patterns the echoed input cannot match: only the shell's output has the values.
    expect(output).toMatch(/failure lines in the log: [1-9]/);
    expect(output).toMatch(/kiwi: config failed/);
    expect(leftovers(env)).toEqual([]);
  });
});
