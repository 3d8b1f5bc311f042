import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCacheDiskDir } from '../../src/box/paths.js';
import { ensureTestBox, TEST_BOX_CACHE } from '../fixtures/box/built-box.js';
import { fileOfMember } from '../fixtures/image-member.js';
import { processesUnder, vmDirsUnder } from '../fixtures/processes.js';
import { kiwi, makeBusyboxRoot, treeSnapshot } from '../fixtures/runtime/busybox-root.js';
import { slimDescription } from '../fixtures/slim-description.js';
import { tempDir } from '../fixtures/temp-dir.js';

// Boxes for a user without root (nobody, by setpriv), the way such a user has them: their
// own box cache, filled by `kiwi box fetch` from a published box (the test box, as file://),
// and their own runtime dir. What the box writes through a share belongs to that user.
const NOBODY = 65534;
const canRun = process.getuid?.() === 0 && fs.existsSync('/usr/bin/qemu-system-x86_64') && fs.existsSync('/usr/bin/mmdebstrap') && fs.existsSync('/usr/bin/setpriv');
const BOOT_AND_RUN_MS = 5 * 60_000;
/** A warm boxbuild takes 2–3 minutes here; a cold one makes the bootstrap layer under emulation first. */
const BOXBUILD_MS = 25 * 60_000;

/** The test box's files copied where any user can read them (the test cache may sit under /root). */
function publishTestBox(dir: string): string {
  const version = fs.realpathSync(path.join(TEST_BOX_CACHE, 'debian', 'x86_64', 'current'));
  const manifest = JSON.parse(fs.readFileSync(path.join(version, 'box.json'), 'utf8')) as { files: { path: string }[] };
  for (const name of ['box.json', ...manifest.files.map((file) => file.path)]) fs.copyFileSync(path.join(version, name), path.join(dir, name));
  return path.join(dir, 'box.json');
}

/**
 * The root tests' build cache disk, when they made one, copied into the user's box cache:
 * their bootstrap layer is the one this user's build needs, and making it a second time
 * under emulation would add 7–13 minutes. Without one, kiwi makes it in the user's own disk.
 */
function seedBuildCache(cacheRoot: string): void {
  const from = buildCacheDiskDir(TEST_BOX_CACHE, 'debian', 'x86_64');
  if (!fs.existsSync(path.join(from, 'base.qcow2'))) return;
  const to = buildCacheDiskDir(cacheRoot, 'debian', 'x86_64');
  fs.mkdirSync(to, { recursive: true });
  for (const name of ['base.qcow2', 'generation']) fs.copyFileSync(path.join(from, name), path.join(to, name));
  for (const dir of [path.dirname(to), to, path.join(to, 'base.qcow2'), path.join(to, 'generation')]) fs.chownSync(dir, NOBODY, NOBODY);
}

describe.skipIf(!canRun)('boxes without root (nobody, debian box, TCG)', () => {
  let home: string;
  let env: Record<string, string>;
  const asNobody = (args: string[]) => kiwi(args, { env, asUser: NOBODY, timeoutMs: BOOT_AND_RUN_MS });
  /** A directory of nobody's own under their home. */
  const ownDir = (name: string): string => {
    const dir = path.join(home, name);
    fs.mkdirSync(dir);
    fs.chownSync(dir, NOBODY, NOBODY);
    return dir;
  };

  beforeAll(async () => {
    await ensureTestBox();
    home = tempDir('kiwi-nobody-');
    fs.chmodSync(home, 0o755);
    fs.chownSync(home, NOBODY, NOBODY);
    const manifest = publishTestBox(ownDir('published'));
    const catalog = path.join(home, 'boxes.yaml');
    fs.writeFileSync(catalog, `boxes:\n  - name: debian\n    description: the test box\n    arch:\n      x86_64: { manifest: "file://${manifest}" }\n`);
    env = { HOME: home, KIWI_BOX_CONFIG: catalog, KIWI_BOXED_CACHE_DIR: path.join(home, 'cache'), XDG_RUNTIME_DIR: path.join(home, 'run') };
    const fetched = await asNobody(['box', 'fetch', 'debian']);
    expect(fetched.exitCode, fetched.all).toBe(0);
  }, 30 * 60_000);
  afterAll(() => {
    expect(processesUnder(home, /qemu-system|virtiofsd|sftp-server/)).toEqual([]);
  });

  it('kiwi run --box: root in the container, the lower root untouched, the committed tree the user\'s', { timeout: BOOT_AND_RUN_MS }, async () => {
    const root = makeBusyboxRoot();
    const before = treeSnapshot(root);
    const commitDir = path.join(ownDir('out'), 'tree');
    const done = await asNobody(['run', '--box', 'debian', '--no-update-check', '--quiet', '--root', root, '--commit', commitDir, '--', '/bin/sh', '-c', 'id -u; echo made > /etc/made-inside']);
    expect(done.exitCode, done.all).toBe(0);
    expect(String(done.stdout)).toBe('0');
    const made = path.join(commitDir, 'etc', 'made-inside');
    expect(fs.readFileSync(made, 'utf8')).toBe('made\n');
    // Owners cannot be kept through the share of a QEMU without root: the copy is the user's.
    expect([fs.statSync(made).uid, fs.lstatSync(path.join(commitDir, 'bin', 'busybox')).uid]).toEqual([NOBODY, NOBODY]);
    expect(treeSnapshot(root)).toEqual(before);
  });

  it.each(['9p', 'sshfs'])('--%s-sharing: files and symlinks the box writes belong to the user, a read-only share refuses writes', { timeout: BOOT_AND_RUN_MS }, async (backend) => {
    const rw = ownDir(`rw-${backend}`);
    const ro = ownDir(`ro-${backend}`);
    fs.writeFileSync(path.join(ro, 'kept'), 'kept\n');
    fs.chownSync(path.join(ro, 'kept'), NOBODY, NOBODY);
    const script = 'echo written > /mnt/rw/file && ln -s file /mnt/rw/link && mkdir /mnt/rw/dir && cat /mnt/ro/kept && if echo x > /mnt/ro/kept; then echo ro-writable; fi';
    const done = await asNobody(['box', 'shell', 'debian', '--no-update-check', `--${backend}-sharing`, '--share', `${rw}:/mnt/rw`, '--share', `${ro}:/mnt/ro:ro`, '--', 'sh', '-c', script]);
    expect(done.exitCode, done.all).toBe(0);
    expect(String(done.stdout)).toBe('kept');
    expect(fs.readFileSync(path.join(rw, 'file'), 'utf8')).toBe('written\n');
    expect(fs.readlinkSync(path.join(rw, 'link'))).toBe('file');
    expect(['file', 'link', 'dir'].map((name) => fs.lstatSync(path.join(rw, name)).uid)).toEqual([NOBODY, NOBODY, NOBODY]);
    expect(fs.readFileSync(path.join(ro, 'kept'), 'utf8')).toBe('kept\n');
  });

  it('kiwi boxbuild: a tbz built in the box lands in the target directory as the user\'s, beside the files already there', { timeout: BOXBUILD_MS }, async () => {
    seedBuildCache(env.KIWI_BOXED_CACHE_DIR!);
    const description = slimDescription('debian-minimal');
    fs.chmodSync(description, 0o755);
    const target = ownDir('target');
    fs.writeFileSync(path.join(target, 'unrelated'), 'kept\n');
    const done = await kiwi(['boxbuild', '--box', 'debian', '--no-update-check', '--', '--description', description, '--target-dir', target], { env, asUser: NOBODY, timeoutMs: BOXBUILD_MS });
    expect(done.exitCode, done.all).toBe(0);
    expect(String(done.stderr)).toMatch(/booting debian \(x86_64, 9p shares\)/);
    const image = path.join(target, 'debian-minimal.x86_64-1.0.0.tar.xz');
    expect(await fileOfMember(image, './usr/bin/dash')).toMatch(/ELF 64-bit LSB .*x86-64/);
    expect(String((await execa('tar', ['-tJf', image])).stdout).split('\n')).toContain('./etc/os-release');
    expect(fs.readFileSync(path.join(target, 'unrelated'), 'utf8')).toBe('kept\n');
    const made = ['debian-minimal.x86_64-1.0.0.tar.xz', 'debian-minimal.x86_64-1.0.0.packages', 'kiwi.result.json'];
    expect(made.map((name) => fs.statSync(path.join(target, name)).uid)).toEqual(made.map(() => NOBODY));
    expect(fs.readdirSync(target).filter((name) => name.startsWith('.'))).toEqual([]);
  });

  it('--virtiofs-sharing says why QEMU\'s virtiofsd cannot serve this user, and what to use instead (exit 3)', async () => {
    const done = await asNobody(['box', 'shell', 'debian', '--no-update-check', '--virtiofs-sharing', '--share', `${ownDir('vfs')}:/mnt/vfs`, '--', 'true']);
    expect(done.exitCode).toBe(3);
    expect(String(done.stderr)).toMatch(/^error: --virtiofs-sharing without root needs the Rust virtiofsd; QEMU's \/usr\/lib\/qemu\/virtiofsd runs only as root$/m);
    expect(String(done.stderr)).toMatch(/^hint: use --9p-sharing \(the default\) or --sshfs-sharing/m);
    expect(vmDirsUnder(env.XDG_RUNTIME_DIR!)).toEqual([]);
  });
});
