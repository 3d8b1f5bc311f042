import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shellQuote } from '../../src/common/shell-quote.js';
import { probeSftpJail } from '../../src/transport/sftp-bridge.js';
import { jailPasswd, sftpJailCommand } from '../../src/vm/shares/sshfs.js';
import { ensureTestBox, TEST_BOX_CACHE } from '../fixtures/box/built-box.js';
import { tempDir } from '../fixtures/box-fixture.js';
import { runKiwi } from '../fixtures/run-kiwi.js';
import { processesUnder, vmDirsUnder } from '../fixtures/processes.js';

// Booting needs the debian box (built once, as root) and QEMU; every boot here runs under TCG.
const canRun = process.getuid?.() === 0 && fs.existsSync('/usr/bin/qemu-system-x86_64') && fs.existsSync('/usr/bin/mmdebstrap');
const hasSftpServer = fs.existsSync('/usr/lib/openssh/sftp-server') && fs.existsSync('/usr/bin/bwrap');

const made: string[] = [];
/** A temp dir removed after the file's tests. */
function scratch(prefix: string): string {
  const dir = tempDir(prefix);
  made.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

/** Small files the box creates through every backend, in directories of 100. */
const SMALL_FILES = 10_000;
const MANY_DIRS = SMALL_FILES / 100;

/** What the box does through a rw share (/mnt/rw) and a ro share (/mnt/ro), printing what it saw. */
const BOX_SCRIPT = `
set -e
cd /mnt/rw
echo "from-host: $(cat /mnt/ro/in.txt) $(stat -c %a /mnt/ro/in.txt)"
printf 'written in the box\\n' > content.txt
chmod 751 content.txt
ln -s content.txt link
echo moved > before-rename && mv before-rename after-rename
truncate -s 5G sparse.img
mkdir many && for d in $(seq ${MANY_DIRS}); do mkdir many/d$d && for i in $(seq 100); do echo $d.$i > many/d$d/f$i; done; done
if echo x > /mnt/ro/new 2>/dev/null; then echo ro-writable; fi
# A guest that remounts rw must still be refused by the host side (sshfs cannot remount at all).
mount -o remount,rw /mnt/ro 2>/dev/null || true
if echo x > /mnt/ro/new2 2>/dev/null; then echo ro-writable-after-remount; fi
if rm /mnt/ro/in.txt 2>/dev/null; then echo ro-deletable; fi
sync
echo done
`;

function prepareShares(): { rw: string; ro: string } {
  const rw = scratch('kiwi-share-rw-');
  const ro = scratch('kiwi-share-ro-');
  fs.writeFileSync(path.join(ro, 'in.txt'), 'hello-from-host');
  fs.chmodSync(path.join(ro, 'in.txt'), 0o640);
  return { rw, ro };
}

function runShares(backend: string, dirs: { rw: string; ro: string }, env: Record<string, string>, script = BOX_SCRIPT) {
  return runKiwi(
    ['box', 'shell', 'debian', '--no-update-check', `--${backend}-sharing`, '--share', `${dirs.rw}:/mnt/rw`, '--share', `${dirs.ro}:/mnt/ro:ro`, '--', 'sh', '-c', script],
    { env },
  );
}

/** The host sees what the box wrote, owned by the user who ran kiwi; the ro share is untouched. */
function expectRoundTrip(result: { exitCode?: number; stdout: string; stderr: string }, dirs: { rw: string; ro: string }): void {
  expect(result.exitCode, result.stderr).toBe(0);
  expect(result.stdout).toContain('from-host: hello-from-host 640');
  expect(result.stdout).not.toContain('ro-');
  expect(result.stdout).toContain('done');
  const uid = process.getuid!();
  const content = path.join(dirs.rw, 'content.txt');
  expect(fs.readFileSync(content, 'utf8')).toBe('written in the box\n');
  expect(fs.statSync(content).mode & 0o777).toBe(0o751);
  expect(fs.statSync(content).uid).toBe(uid);
  expect(fs.readlinkSync(path.join(dirs.rw, 'link'))).toBe('content.txt');
  expect(fs.existsSync(path.join(dirs.rw, 'before-rename'))).toBe(false);
  expect(fs.readFileSync(path.join(dirs.rw, 'after-rename'), 'utf8')).toBe('moved\n');
  const sparse = fs.statSync(path.join(dirs.rw, 'sparse.img'));
  expect(sparse.size).toBe(5 * 1024 ** 3);
  expect(sparse.blocks * 512).toBeLessThan(1024 ** 2);
  const many = path.join(dirs.rw, 'many');
  const files = fs.readdirSync(many).flatMap((dir) => fs.readdirSync(path.join(many, dir)));
  expect(files).toHaveLength(SMALL_FILES);
  expect(fs.readFileSync(path.join(many, `d${MANY_DIRS}`, 'f100'), 'utf8')).toBe(`${MANY_DIRS}.100\n`);
  expect(fs.statSync(path.join(many, 'd1', 'f1')).uid).toBe(uid);
  expect(fs.readdirSync(dirs.ro)).toEqual(['in.txt']);
}

async function expectNothingLeft(env: Record<string, string>, dirs: string[]): Promise<void> {
  await sleep(200);
  expect(vmDirsUnder(env.XDG_RUNTIME_DIR!)).toEqual([]);
  for (const dir of [env.XDG_RUNTIME_DIR!, ...dirs]) expect(processesUnder(dir, /qemu-system|virtiofsd|sftp-server|bwrap/)).toEqual([]);
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  for (const dir of dirs) expect(mounts).not.toContain(dir);
}

describe.skipIf(!canRun)('shares between host and box (debian box, TCG)', () => {
  beforeAll(async () => {
    await ensureTestBox();
  }, 30 * 60_000);

  it('9p and virtiofs, in two VMs at once: content, mode, symlink, rename, 5 GiB sparse file, 10,000 files, owner, ro refused', async () => {
    const env = { KIWI_BOXED_CACHE_DIR: TEST_BOX_CACHE, XDG_RUNTIME_DIR: scratch('kiwi-rt-') };
    const ninep = prepareShares();
    const virtiofs = prepareShares();
    const [ninepResult, virtiofsResult] = await Promise.all([runShares('9p', ninep, env), runShares('virtiofs', virtiofs, env)]);
    expectRoundTrip(ninepResult, ninep);
    expectRoundTrip(virtiofsResult, virtiofs);
    await expectNothingLeft(env, [ninep.rw, ninep.ro, virtiofs.rw, virtiofs.ro]);
  }, 600_000);

  it.skipIf(!hasSftpServer)('sshfs: the same round trip, with no host sshd and no host port', async () => {
    const env = { KIWI_BOXED_CACHE_DIR: TEST_BOX_CACHE, XDG_RUNTIME_DIR: scratch('kiwi-rt-') };
    const dirs = prepareShares();
    const outside = scratch('kiwi-outside-');
    fs.writeFileSync(path.join(outside, 'secret'), 'host-secret');
    fs.symlinkSync(path.join(outside, 'secret'), path.join(dirs.rw, 'abs-link'));
    fs.symlinkSync(path.relative(dirs.rw, path.join(outside, 'secret')), path.join(dirs.rw, 'rel-link'));
    const script = `${BOX_SCRIPT.replace('\necho done\n', '\n')}
for link in abs-link rel-link; do if cat /mnt/rw/$link 2>/dev/null | grep -q host-secret; then echo leaked-$link; fi; done
echo done
`;
    const result = await runShares('sshfs', dirs, env, script);
    expectRoundTrip(result, dirs);
    expect(result.stdout).not.toContain('leaked');
    await expectNothingLeft(env, [dirs.rw, dirs.ro]);
  }, 900_000);
});

/**
 * The box controls its end of the SFTP stream, so the jail is proven against raw SFTP
 * requests, not only through sshfs: OpenSSH's own sftp client drives the exact command kiwi
 * runs (sftp -D), asking for `..`, absolute paths, symlinks and hard links out of the share.
 */
describe.skipIf(!hasSftpServer || !fs.existsSync('/usr/bin/sftp'))('the sshfs jail against raw SFTP requests', () => {
  async function sftpBatch(share: { hostDir: string; readOnly: boolean }, batch: string[]): Promise<string> {
    const work = scratch('kiwi-sftp-client-');
    const { command, args } = sftpJailCommand({ ...(await probeSftpJail()), share: { ...share, tag: 'kiwi0', guestDir: '/unused' } });
    fs.writeFileSync(path.join(work, 'passwd'), jailPasswd(process.getuid!(), process.getgid!()));
    // sftp -D runs a program without a shell; this wrapper hands bwrap its passwd on fd 3, as kiwi does.
    const wrapper = path.join(work, 'jail.sh');
    fs.writeFileSync(wrapper, `#!/bin/sh\nexec 3<${shellQuote([path.join(work, 'passwd')])}\nexec ${shellQuote([command, ...args])}\n`, { mode: 0o755 });
    fs.writeFileSync(path.join(work, 'upload'), 'from-the-box');
    // "-" before a command: go on after it fails (each escape attempt is expected to fail).
    fs.writeFileSync(path.join(work, 'batch'), batch.map((line) => `-${line}`).join('\n') + '\n');
    const result = await execa('sftp', ['-b', path.join(work, 'batch'), '-D', wrapper], { cwd: work, reject: false, all: true });
    return `${work}\n${result.all}`;
  }

  it('reads nothing outside the share and writes nothing outside it', async () => {
    const share = scratch('kiwi-jail-share-');
    const outside = path.dirname(share);
    const secret = scratch('kiwi-jail-secret-');
    fs.writeFileSync(path.join(secret, 'secret'), 'host-secret');
    fs.writeFileSync(path.join(share, 'inside'), 'inside');
    fs.symlinkSync(path.join(secret, 'secret'), path.join(share, 'abs-link'));
    fs.symlinkSync(path.relative(share, path.join(secret, 'secret')), path.join(share, 'rel-link'));
    const log = await sftpBatch({ hostDir: share, readOnly: false }, [
      'get inside got-inside',
      `get ../${path.basename(secret)}/secret got-dotdot`,
      `get ${path.join(secret, 'secret')} got-absolute`,
      'get /etc/shadow got-shadow',
      'get /etc/hostname got-hostname',
      'get abs-link got-abs-link',
      'get rel-link got-rel-link',
      `symlink ${path.join(secret, 'secret')} new-link`,
      'get new-link got-new-link',
      `ln ${path.join(secret, 'secret')} hard-link`,
      'ln /etc/hostname hard-link2',
      `put upload ../${path.basename(secret)}/planted`,
      `put upload ${path.join(outside, 'planted-abs')}`,
      'put upload /planted-root',
      'put upload /usr/lib/openssh/planted',
    ]);
    const work = log.split('\n')[0]!;
    expect(fs.readFileSync(path.join(work, 'got-inside'), 'utf8')).toBe('inside');
    for (const got of ['got-dotdot', 'got-absolute', 'got-shadow', 'got-hostname', 'got-abs-link', 'got-rel-link', 'got-new-link']) {
      expect(fs.existsSync(path.join(work, got)), `${got}\n${log}`).toBe(false);
    }
    expect(fs.existsSync(path.join(share, 'hard-link')) || fs.existsSync(path.join(share, 'hard-link2'))).toBe(false);
    expect(fs.readdirSync(secret)).toEqual(['secret']);
    expect(fs.existsSync(path.join(outside, 'planted-abs'))).toBe(false);
    expect(fs.existsSync('/planted-root') || fs.existsSync('/usr/lib/openssh/planted')).toBe(false);
  });

  it('refuses every write to a read-only share', async () => {
    const share = scratch('kiwi-jail-ro-');
    fs.writeFileSync(path.join(share, 'inside'), 'inside');
    const log = await sftpBatch({ hostDir: share, readOnly: true }, ['get inside got-inside', 'put upload new', 'rm inside', 'rename inside moved', 'mkdir dir', 'chmod 777 inside', 'symlink inside link']);
    const work = log.split('\n')[0]!;
    expect(fs.readFileSync(path.join(work, 'got-inside'), 'utf8')).toBe('inside');
    expect(fs.readdirSync(share)).toEqual(['inside']);
    expect(fs.statSync(path.join(share, 'inside')).mode & 0o777).not.toBe(0o777);
  });
});
