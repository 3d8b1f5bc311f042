import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { markInUse } from '../../src/common/in-use.js';
import { processIdentity } from '../../src/common/process-identity.js';
import { listTree, makeFixtureBox, tempDir, type FixtureBox } from '../fixtures/box-fixture.js';
import { FaultServer } from '../fixtures/fault-server.js';
import { runKiwi } from '../fixtures/run-kiwi.js';
import { kiwi } from '../fixtures/runtime/busybox-root.js';

const DISK = '/testbox/x86_64/root.qcow2';
let server: FaultServer;
let work: string;
let env: Record<string, string>;

function publish(box: FixtureBox): void {
  for (const [file, bytes] of Object.entries(box.files)) server.serve(`/testbox/x86_64/${file}`, bytes);
  server.serve('/testbox/x86_64/box.json', JSON.stringify(box.manifest));
}

function writeCatalog(text: string): void {
  fs.writeFileSync(path.join(work, 'boxes.yaml'), text);
}

beforeEach(async () => {
  server = new FaultServer();
  const url = await server.start();
  work = tempDir();
  env = { KIWI_BOXED_CACHE_DIR: path.join(work, 'cache'), KIWI_BOX_CONFIG: path.join(work, 'boxes.yaml'), HOME: work };
  writeCatalog(`boxes:\n  - name: testbox\n    description: a box for tests\n    arch:\n      x86_64: { manifest: "${url}/testbox/x86_64/box.json" }\n`);
});

afterEach(async () => {
  await server.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

/** A user-facing error: one `error:` line and a hint, never a stack trace. */
function expectCleanError(stderr: string, message: RegExp): void {
  expect(stderr).toMatch(message);
  expect(stderr).toMatch(/^hint: /m);
  expect(stderr).not.toMatch(/^\s+at /m);
}

describe('kiwi --help', () => {
  it('lists every command with one line each', async () => {
    const top = await runKiwi(['--help']);
    expect(top.exitCode).toBe(0);
    expect(top.stdout).toMatch(/^ {2}boxbuild \[options\] +\S.*$/m);
    expect(top.stdout).toMatch(/^ {2}box +manage boxes.*$/m);
    for (const command of ['batch', 'build', 'run', 'doctor']) expect(top.stdout).toMatch(new RegExp(`^  ${command} \\[options\\].*\\S`, 'm'));
    const box = await runKiwi(['box', '--help']);
    for (const command of ['list', 'fetch', 'rm', 'prune']) expect(box.stdout).toMatch(new RegExp(`^  ${command}\\b.*\\S`, 'm'));
  });
});

describe('kiwi box list', () => {
  it('shows each catalog box and arch, and what is cached and verified', async () => {
    publish(makeFixtureBox());
    const before = JSON.parse((await runKiwi(['box', 'list', '--json'], { env })).stdout) as Record<string, unknown>[];
    expect(before.find((row) => row.name === 'testbox')).toMatchObject({ arch: 'x86_64', cachedVersion: null, verified: false });
    expect(before.some((row) => row.name === 'debian')).toBe(true);

    expect((await runKiwi(['box', 'fetch', 'testbox', '--arch', 'x86_64'], { env })).exitCode).toBe(0);
    const after = JSON.parse((await runKiwi(['box', 'list', '--json'], { env })).stdout) as Record<string, unknown>[];
    const row = after.find((entry) => entry.name === 'testbox');
    expect(row).toMatchObject({ cachedVersion: expect.stringMatching(/^1\.0\.0-[0-9a-f]{12}$/), verified: true });
    expect(row?.diskBytes).toBeGreaterThanOrEqual(1024 * 1024);

    const table = await runKiwi(['box', 'list'], { env });
    expect(table.stdout).toMatch(/^testbox +x86_64 +1\.0\.0-[0-9a-f]{12} +1\.\d MiB +yes +http:/m);
    const listBoxes = await runKiwi(['boxbuild', '--list-boxes'], { env });
    expect(listBoxes.stdout).toBe(table.stdout);
  });
});

describe('kiwi box fetch', () => {
  it.skipIf(process.getuid?.() !== 0)('says which path this user may not write when the box cache is not theirs (exit 2, no stack)', async () => {
    publish(makeFixtureBox());
    // The catalog readable by everyone, the cache root's own (as a shared or misconfigured cache is).
    fs.chmodSync(work, 0o755);
    fs.chmodSync(path.join(work, 'boxes.yaml'), 0o644);
    fs.mkdirSync(env.KIWI_BOXED_CACHE_DIR!, { mode: 0o755 });
    const nobody = await kiwi(['box', 'fetch', 'testbox'], { env: { ...env, HOME: '/nonexistent', CI: '1' }, asUser: 65534 });
    expect(nobody.exitCode).toBe(2);
    expectCleanError(String(nobody.stderr), new RegExp(`^error: cannot \\w+ ${env.KIWI_BOXED_CACHE_DIR}/\\S+: permission denied to this user \\(uid 65534\\)$`, 'm'));
    expect(String(nobody.stderr)).not.toContain('internal error');
  });

  it('downloads with plain timestamped progress lines when not on a terminal', async () => {
    publish(makeFixtureBox());
    const result = await runKiwi(['box', 'fetch', 'testbox'], { env });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^testbox \(x86_64\) 1\.0\.0-[0-9a-f]{12}: downloaded, .* in .*versions/m);
    expect(result.stderr).toMatch(/^\S \[\d\d:\d\d:\d\d\] root\.qcow2: 1\.0 MiB downloaded$/m);
    const again = await runKiwi(['box', 'fetch', 'testbox'], { env });
    expect(again.stdout).toMatch(/: cached,/);
  });

  it('rejects bad input with exit code 2 and a clear message', async () => {
    const unknownBox = await runKiwi(['box', 'fetch', 'nosuchbox'], { env });
    expect(unknownBox.exitCode).toBe(2);
    expectCleanError(unknownBox.stderr, /^error: unknown box "nosuchbox"\nhint: boxes in the catalog: debian, testbox$/m);

    const unknownArch = await runKiwi(['box', 'fetch', 'testbox', '--arch', 'mips'], { env });
    expect(unknownArch.exitCode).toBe(2);
    expectCleanError(unknownArch.stderr, /^error: unknown architecture "mips"$/m);

    const missingArch = await runKiwi(['box', 'fetch', 'testbox', '--arch', 'aarch64'], { env });
    expect(missingArch.exitCode).toBe(2);
    expectCleanError(missingArch.stderr, /^error: box "testbox" has no aarch64 variant$/m);

    writeCatalog('boxes:\n  - name: testbox\n    arch:\n      x86_64: { manifest: "ftp://example.org/box.json" }\n');
    const badCatalog = await runKiwi(['box', 'list'], { env });
    expect(badCatalog.exitCode).toBe(2);
    expectCleanError(badCatalog.stderr, /^error: bad box catalog .*boxes\.yaml: boxes\[0\]\.arch\.x86_64\.manifest: must be an http:\/\/, https:\/\/ or file:\/\/ URL$/m);

    const missingConfig = await runKiwi(['box', 'list'], { env: { ...env, KIWI_BOX_CONFIG: path.join(work, 'nope.yaml') } });
    expect(missingConfig.exitCode).toBe(2);
    expectCleanError(missingConfig.stderr, /^error: KIWI_BOX_CONFIG names .*nope\.yaml, which does not exist$/m);

    const badOption = await runKiwi(['box', 'fetch', 'testbox', '--frobnicate'], { env });
    expect(badOption.exitCode).toBe(2);
  });

  it('reports environment problems with exit code 3', async () => {
    const box = makeFixtureBox();
    publish(box);
    server.serve('/testbox/x86_64/box.json', JSON.stringify({ ...box.manifest, cpus: 0 }));
    const badManifest = await runKiwi(['box', 'fetch', 'testbox'], { env });
    expect(badManifest.exitCode).toBe(3);
    expectCleanError(badManifest.stderr, /^error: bad box manifest http:.*box\.json: cpus: Too small: expected number to be >=1$/m);

    await server.stop();
    const unreachable = await runKiwi(['box', 'fetch', 'testbox'], { env });
    expect(unreachable.exitCode).toBe(3);
    expectCleanError(unreachable.stderr, /^error: cannot reach http:\/\/127\.0\.0\.1:\d+\/testbox\/x86_64\/box\.json: ECONNREFUSED$/m);
    server = new FaultServer();
    await server.start();
  });

  it('lets several processes fetch the same box at once: one download, all succeed', async () => {
    publish(makeFixtureBox({ diskBytes: 2 * 1024 * 1024 }));
    // Slow enough (about 2 s) that all three processes overlap.
    server.fault(DISK, { trickleBytesPer100ms: 128 * 1024 });
    const results = await Promise.all([1, 2, 3].map(() => runKiwi(['box', 'fetch', 'testbox'], { env })));
    expect(results.map((result) => result.exitCode)).toEqual([0, 0, 0]);
    expect(server.requestsFor(DISK)).toHaveLength(1);
    const ids = results.map((result) => /1\.0\.0-[0-9a-f]{12}/.exec(result.stdout)?.[0]);
    expect(new Set(ids).size).toBe(1);
    expect(results.map((result) => /: (\w+),/.exec(result.stdout)?.[1]).sort()).toEqual(['cached', 'cached', 'downloaded']);
  });

  it('stops cleanly on Ctrl-C and resumes on the next run', async () => {
    publish(makeFixtureBox({ diskBytes: 2 * 1024 * 1024 }));
    server.fault(DISK, { trickleBytesPer100ms: 64 * 1024 });
    const child = execa('node', ['bin/kiwi.js', 'box', 'fetch', 'testbox'], { env: { CI: '1', ...env }, reject: false });
    const partial = path.join(env.KIWI_BOXED_CACHE_DIR!, '.partial');
    while (!(fs.existsSync(partial) && fs.readdirSync(partial).some((f) => f.endsWith('.part') && fs.statSync(path.join(partial, f)).size > 256 * 1024))) {
      await sleep(50);
    }
    child.kill('SIGINT');
    const interrupted = await child;
    expect(interrupted.exitCode).toBe(130);
    expect(interrupted.stderr).toMatch(/interrupted by SIGINT/);
    const cache = env.KIWI_BOXED_CACHE_DIR!;
    expect(listTree(path.join(cache, '.locks'))).toEqual([]);
    expect(fs.existsSync(path.join(cache, 'testbox/x86_64/current'))).toBe(false);

    const resumed = await runKiwi(['box', 'fetch', 'testbox'], { env });
    expect(resumed.exitCode).toBe(0);
    expect(resumed.stderr).toMatch(/root\.qcow2: 2\.0 MiB resumed/);
    expect(server.requestsFor(DISK)[1]?.status).toBe(206);
  });

  it.skipIf(process.getuid?.() !== 0)('fails with exit code 3 when the cache disk is too small', async () => {
    publish(makeFixtureBox({ diskBytes: 4 * 1024 * 1024 }));
    const small = path.join(work, 'small');
    fs.mkdirSync(small);
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small]);
    try {
      const result = await runKiwi(['box', 'fetch', 'testbox'], { env: { ...env, KIWI_BOXED_CACHE_DIR: small } });
      expect(result.exitCode).toBe(3);
      expectCleanError(result.stderr, /^error: not enough disk space in .*small: the box needs 4\.1 MiB, .* free$/m);
      expect(listTree(path.join(small, 'testbox/x86_64/versions'))).toEqual([]);
    } finally {
      await execa('umount', [small]);
    }
  });
});

describe('kiwi box rm and prune', () => {
  it('removes a box and says how much it freed; refuses while a VM uses it', async () => {
    publish(makeFixtureBox());
    await runKiwi(['box', 'fetch', 'testbox'], { env });
    const current = fs.realpathSync(path.join(env.KIWI_BOXED_CACHE_DIR!, 'testbox/x86_64/current'));
    const use = await markInUse(current);
    const refused = await runKiwi(['box', 'rm', 'testbox'], { env });
    expect(refused.exitCode).toBe(3);
    expectCleanError(refused.stderr, new RegExp(`^error: box "testbox" \\(x86_64\\) version .* is in use by a running VM \\(pid ${process.pid}\\)$`, 'm'));
    await use.release();

    // The box's build cache disk goes with it, but not while a build uses it.
    const disks = path.join(env.KIWI_BOXED_CACHE_DIR!, '.disks', 'testbox.x86_64');
    fs.mkdirSync(path.join(disks, 'users'), { recursive: true });
    fs.writeFileSync(path.join(disks, 'base.qcow2'), Buffer.alloc(64 * 1024, 1));
    fs.writeFileSync(path.join(disks, 'users', `${processIdentity()}.abcd`), '');
    const busy = await runKiwi(['box', 'rm', 'testbox'], { env });
    expect(busy.exitCode).toBe(3);
    expectCleanError(busy.stderr, new RegExp(`^error: the build cache of box "testbox" \\(x86_64\\) is in use by a running build \\(pid ${process.pid}\\)$`, 'm'));
    fs.rmSync(path.join(disks, 'users', `${processIdentity()}.abcd`));

    const removed = await runKiwi(['box', 'rm', 'testbox'], { env });
    expect(removed.exitCode).toBe(0);
    expect(removed.stdout).toMatch(/^removed testbox: 1\.\d MiB freed$/m);
    expect(fs.existsSync(path.join(env.KIWI_BOXED_CACHE_DIR!, 'testbox'))).toBe(false);
    expect(fs.existsSync(disks)).toBe(false);
  });

  it('refuses a name that is not a box name or not cached (exit 2), touching nothing outside the cache', async () => {
    const outside = path.join(path.dirname(env.KIWI_BOXED_CACHE_DIR!), 'outside');
    fs.mkdirSync(path.join(outside, 'x86_64'), { recursive: true });
    fs.writeFileSync(path.join(outside, 'x86_64', 'keep'), 'unrelated');
    const traversal = await runKiwi(['box', 'rm', '../outside'], { env });
    expect(traversal.exitCode).toBe(2);
    expectCleanError(traversal.stderr, /^error: "\.\.\/outside" is not a box name$/m);
    expect(fs.readFileSync(path.join(outside, 'x86_64', 'keep'), 'utf8')).toBe('unrelated');
    fs.rmSync(outside, { recursive: true });

    const missing = await runKiwi(['box', 'rm', 'nosuchbox', '--arch', 'aarch64'], { env });
    expect(missing.exitCode).toBe(2);
    expectCleanError(missing.stderr, /^error: box "nosuchbox" \(aarch64\) is not in the cache$/m);
  });

  it('prune drops partial downloads nobody is writing', async () => {
    const partial = path.join(env.KIWI_BOXED_CACHE_DIR!, '.partial');
    fs.mkdirSync(partial, { recursive: true });
    fs.writeFileSync(path.join(partial, `${'a'.repeat(64)}.part`), Buffer.alloc(300 * 1024, 1));
    const result = await runKiwi(['box', 'prune'], { env });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^removed \.partial\/a{64}\.part$/m);
    expect(result.stdout).toMatch(/^30\d KiB freed$/m);
    expect(fs.readdirSync(partial)).toEqual([]);
  });
});
