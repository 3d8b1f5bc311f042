import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerPidNamespace, hostMountsMentioning, KIWI, kiwi, kiwiCgroups, makeBusyboxRoot, pidsInNamespace, pidsWithArgument, REPO } from '../fixtures/runtime/busybox-root.js';
import { waitFor } from '../fixtures/wait-for.js';
import { tempDir } from '../fixtures/temp-dir.js';

// Nothing of a container outlives its run: no process, no mount, no cgroup, no state —
// after success, failure, SIGINT, SIGTERM, and (once the next kiwi run started) SIGKILL.
// And the rootless mode: a user namespace, or a clear reason why a limit cannot apply.
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

describe.skipIf(!isRoot)('kiwi run leaves nothing behind', () => {
  let root: string;
  let stateDir: string;
  let cgroupsBefore: string[];
  const env = (): Record<string, string> => ({ KIWI_STATE_DIR: stateDir });

  beforeAll(() => {
    if (!fs.existsSync(path.join(REPO, 'dist', 'cli', 'run.js'))) throw new Error('build first: npm run build');
    root = makeBusyboxRoot();
    stateDir = tempDir('kiwi-state-');
    cgroupsBefore = kiwiCgroups();
  });
  afterAll(() => {
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  /** A unique argument for the container's processes, to find them on the host. */
  const marker = (): string => `kiwi-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  /** The cgroups of the one run in progress: one per hierarchy (v1) or one (v2), named by its id. */
  const runCgroups = (): string[] => kiwiCgroups().filter((dir) => !cgroupsBefore.includes(dir));
  const expectOneRunCgroup = (): void => {
    expect(runCgroups().length).toBeGreaterThan(0);
    expect(new Set(runCgroups().map((dir) => path.basename(dir))).size).toBe(1);
  };

  /** Waits for the container of `mark` to run `count` processes; returns its pid namespace. */
  async function containerStarted(mark: string, count: number): Promise<string> {
    let ns: string | undefined;
    expect(await waitFor(() => (ns = containerPidNamespace(mark)) !== undefined && pidsInNamespace(ns).length === count)).toBe(true);
    return ns!;
  }

  async function expectNothingLeft(mark: string, ns?: string): Promise<void> {
    expect(await waitFor(() => pidsWithArgument(mark).length === 0, 3000), `processes with ${mark}: ${pidsWithArgument(mark).join(' ')}`).toBe(true);
    if (ns) expect(pidsInNamespace(ns)).toEqual([]);
    expect(await hostMountsMentioning(stateDir)).toEqual([]);
    expect(kiwiCgroups()).toEqual(cgroupsBefore);
    expect(fs.readdirSync(stateDir)).toEqual([]);
  }

  it('after success and after failure', async () => {
    // The marker is the shell's $0: it names the container's processes without changing what they do.
    const ok = marker();
    const succeeded = await kiwi(['run', '--root', root, '--memory', '64M', '--pids', '64', '--', '/bin/sh', '-c', 'sleep 0.2', ok], { env: env() });
    expect(succeeded.exitCode).toBe(0);
    await expectNothingLeft(ok);
    const bad = marker();
    const failing = kiwi(['run', '--root', root, '--memory', '64M', '--', '/bin/sh', '-c', 'sleep 60 & sleep 1; exit 9', bad], { env: env() });
    const ns = await containerStarted(bad, 3);
    expect((await failing).exitCode).toBe(9);
    // The background sleep 60 dies with its PID 1.
    await expectNothingLeft(bad, ns);
  });

  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    it(`after ${signal} of kiwi`, async () => {
      const mark = marker();
      const child = execa(process.execPath, [KIWI, 'run', '--root', root, '--memory', '64M', '--', '/bin/sh', '-c', 'sleep 60 & sleep 60 & wait', mark], {
        env: env(),
        reject: false,
      });
      const ns = await containerStarted(mark, 3);
      expectOneRunCgroup();
      child.kill(signal);
      const done = await child;
      expect(done.exitCode).toBe(code);
      expect(done.stderr).toContain(`interrupted by ${signal}; cleaned up`);
      // Right after kiwi exits, not only after the next run.
      // (PID 1 is killed before bwrap, so no zombie is left for the host's init to reap.)
      expect(pidsInNamespace(ns)).toEqual([]);
      await expectNothingLeft(mark, ns);
    });
  }

  it('after the output kiwi writes is closed (kiwi run --json ... | head -1): stops as if by SIGPIPE, cleaned up', async () => {
    const mark = marker();
    const child = execa(process.execPath, [KIWI, 'run', '--json', '--root', root, '--', '/bin/sh', '-c', 'sleep 60 & while :; do echo line; sleep 0.1; done', mark], {
      env: env(),
      reject: false,
    });
    const ns = await containerStarted(mark, 3);
    await new Promise((resolve) => child.stdout.once('data', resolve));
    child.stdout.destroy();
    const done = await child;
    expect(done.exitCode).toBe(141);
    expect(done.stderr).toContain('stopped: its output was closed; cleaned up');
    await expectNothingLeft(mark, ns);
  });

  it('after SIGKILL of kiwi: the container dies with it, the next kiwi run cleans the rest', async () => {
    const mark = marker();
    const child = execa(process.execPath, [KIWI, 'run', '--root', root, '--memory', '64M', '--', '/bin/sh', '-c', 'sleep 60 & sleep 60 & wait', mark], {
      env: env(),
      reject: false,
    });
    const ns = await containerStarted(mark, 3);
    child.kill('SIGKILL');
    expect((await child).signal).toBe('SIGKILL');
    // bwrap --die-with-parent: the container's processes go with kiwi; their mount namespace with them.
    expect(await waitFor(() => pidsInNamespace(ns).length === 0, 3000)).toBe(true);
    expect(await hostMountsMentioning(stateDir)).toEqual([]);
    // What only kiwi can remove is still there until the next run...
    expectOneRunCgroup();
    expect(fs.readdirSync(stateDir).length).toBe(2);
    const next = await kiwi(['run', '--root', root, '--', '/bin/true'], { env: env() });
    expect(next.exitCode).toBe(0);
    expect(next.stderr).toMatch(/cleaning stale run [0-9a-f]{12}/);
    await expectNothingLeft(mark, ns);
  });
});

describe.skipIf(!isRoot)('kiwi run as an unprivileged user (user namespace)', () => {
  let root: string;
  let stateDir: string;
  const env = (): Record<string, string> => ({ KIWI_STATE_DIR: stateDir, HOME: '/nonexistent' });

  beforeAll(() => {
    // A rootless container can change only files of the invoking user (the one uid mapped
    // in its user namespace), so the user's root tree is the user's own.
    root = makeBusyboxRoot();
    chownTree(root, NOBODY);
    stateDir = tempDir('kiwi-rootless-state-');
    fs.chownSync(stateDir, NOBODY, NOBODY);
  });
  afterAll(() => {
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it('runs the command as root inside a user namespace, PID 1, own hostname, writes only to its layer', async () => {
    const done = await kiwi(['run', '--root', root, '--hostname', 'rootless', '--network', 'none', '--', '/bin/sh', '-c', 'echo "$(id -u) $$ $(hostname)"; echo x > /etc/written; ip -o link | wc -l'], {
      env: env(),
      asUser: NOBODY,
    });
    expect(done.exitCode).toBe(0);
    expect(done.stdout).toBe('0 1 rootless\n1');
    expect(fs.existsSync(path.join(root, 'etc', 'written'))).toBe(false);
    expect(fs.readdirSync(stateDir)).toEqual([]);
  });

  it('says why limits cannot apply when no cgroup is delegated, and exits 3 without leaving state', async () => {
    const cgroupsBefore = kiwiCgroups();
    const done = await kiwi(['run', '--root', root, '--memory', '64M', '--', '/bin/true'], { env: env(), asUser: NOBODY });
    const delegated = !fs.existsSync('/sys/fs/cgroup/memory/kiwi') && fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
    if (delegated) {
      // A pure cgroup v2 host: the run may work (delegated) or fail with the v2 reason.
      expect([0, 3]).toContain(done.exitCode);
    } else {
      expect(done.exitCode).toBe(3);
      expect(done.stderr).toContain('error: resource limits cannot be applied: this host runs the memory, cpu and pids controllers on cgroup v1');
      expect(done.stderr).toMatch(/^hint: run kiwi run as root/m);
    }
    expect(kiwiCgroups()).toEqual(cgroupsBefore);
    expect(fs.readdirSync(stateDir)).toEqual([]);
  });
});

function chownTree(dir: string, uid: number): void {
  fs.lchownSync(dir, uid, uid);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(full, uid);
    else fs.lchownSync(full, uid, uid);
  }
}
