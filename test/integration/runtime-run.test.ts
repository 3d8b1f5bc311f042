import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEvent, type ResultEvent, type RuntimeEvent } from '../../src/protocol/events.js';
import { hostMountsMentioning, kiwi, kiwiCgroups, makeBusyboxRoot, REPO, treeSnapshot } from '../fixtures/runtime/busybox-root.js';
import { tempDir } from '../fixtures/temp-dir.js';

// `kiwi run` natively as root on a busybox root tree: the built CLI, real namespaces,
// overlayfs and cgroups. Each test checks what it names from inside and outside the container.
const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)('kiwi run (native, root)', () => {
  let root: string;
  let stateDir: string;
  const env = (): Record<string, string> => ({ KIWI_STATE_DIR: stateDir });
  const run = (args: string[]) => kiwi(['run', '--root', root, ...args], { env: env() });

  /** The events of a --json run, and its result. */
  async function runJson(args: string[]): Promise<{ events: RuntimeEvent[]; result: ResultEvent; exitCode: number; stderr: string }> {
    const done = await run(['--json', ...args]);
    const events = String(done.stdout).split('\n').filter(Boolean).map(decodeEvent);
    const result = events.find((event): event is ResultEvent => event.type === 'result');
    if (!result) throw new Error(`no result event; stderr: ${String(done.stderr)}`);
    return { events, result, exitCode: done.exitCode ?? -1, stderr: String(done.stderr) };
  }

  beforeAll(() => {
    if (!fs.existsSync(path.join(REPO, 'dist', 'cli', 'run.js'))) throw new Error('build first: npm run build');
    root = makeBusyboxRoot();
    stateDir = tempDir('kiwi-state-');
  });
  afterAll(() => {
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it('runs the command as PID 1 with its own hostname, passing stdout, stderr and the exit code through', async () => {
    const done = await run(['--quiet', '--hostname', 'box-one', '--', '/bin/sh', '-c', 'echo "pid=$$ host=$(hostname)"; echo "args=$(cat /proc/1/cmdline | tr "\\0" " ")"; echo to-stderr >&2; exit 42']);
    expect(done.exitCode).toBe(42);
    expect(done.stdout).toBe('pid=1 host=box-one\nargs=/bin/sh -c echo "pid=$$ host=$(hostname)"; echo "args=$(cat /proc/1/cmdline | tr "\\0" " ")"; echo to-stderr >&2; exit 42 ');
    // --quiet: nothing but the command's own output on stderr.
    expect(done.stderr).toBe('to-stderr');
  });

  it('does not show the host mounts, and mounts made inside do not reach the host', async () => {
    const marker = tempDir('kiwi-hostmount-');
    await execa('mount', ['-t', 'tmpfs', 'kiwi-marker', marker]);
    try {
      const done = await run(['--quiet', '--', '/bin/sh', '-c', 'mount -t tmpfs inside-only /mnt && cat /proc/mounts && stat -c tmp-mode=%a /tmp && ls -A /tmp']);
      expect(done.exitCode).toBe(0);
      const mounts = String(done.stdout);
      expect(mounts).toMatch(/^kiwi \/ overlay /m);
      expect(mounts).toMatch(/^proc \/proc proc /m);
      // Sticky and world-writable, as apt's unprivileged _apt user needs.
      expect(mounts).toMatch(/^tmpfs \/tmp tmpfs /m);
      expect(mounts).toMatch(/^tmp-mode=1777$/m);
      expect(mounts).toMatch(/^sysfs \/sys sysfs ro,/m);
      expect(mounts).not.toContain(marker);
      expect(mounts).not.toContain('kiwi-marker');
      expect(await hostMountsMentioning('inside-only')).toEqual([]);
      expect(await hostMountsMentioning(stateDir)).toEqual([]);
    } finally {
      await execa('umount', [marker]);
      fs.rmdirSync(marker);
    }
  });

  it('pins the command to --cpuset, gives it the host\'s DNS read-only and a tmpfs /run', async () => {
    const script = 'grep Cpus_allowed_list /proc/self/status; grep " /run " /proc/mounts; (echo x > /etc/resolv.conf) 2>/dev/null && echo resolv-writable; cat /etc/resolv.conf';
    const done = await run(['--quiet', '--cpuset', '1', '--', '/bin/sh', '-c', script]);
    expect(done.exitCode, String(done.stderr)).toBe(0);
    const [cpus, runMount, ...resolv] = String(done.stdout).split('\n');
    expect(cpus).toBe('Cpus_allowed_list:\t1');
    expect(runMount).toMatch(/^tmpfs \/run tmpfs /);
    expect(resolv.join('\n')).toBe(fs.readFileSync('/etc/resolv.conf', 'utf8').trimEnd());
  });

  it('gives a minimal /dev and, with --network none, only loopback', async () => {
    const none = await run(['--quiet', '--network', 'none', '--', '/bin/sh', '-c', 'ls /dev; echo ---; ip -o link']);
    const [dev, links] = String(none.stdout).split('---\n') as [string, string];
    expect(dev.split('\n').filter(Boolean)).toEqual(expect.arrayContaining(['null', 'zero', 'full', 'random', 'urandom', 'tty', 'pts', 'shm']));
    expect(dev).not.toMatch(/\b(vda|sda|kvm|mem)\b/);
    expect(links.trim().split('\n').map((line) => line.split(': ')[1])).toEqual(['lo']);
    const box = await run(['--quiet', '--', '/bin/ip', '-o', 'link']);
    const { stdout: hostLinks } = await execa('ip', ['-o', 'link']);
    expect(String(box.stdout).split('\n').length).toBe(hostLinks.split('\n').length);
  });

  it('leaves the lower root untouched, and --commit saves the merged result', async () => {
    const before = treeSnapshot(root);
    const script = 'echo written > /etc/new-file && rm /etc/hostname && echo changed > /etc/passwd';
    const plain = await run(['--quiet', '--', '/bin/sh', '-c', script]);
    expect(plain.exitCode).toBe(0);
    expect(treeSnapshot(root)).toEqual(before);
    const commitDir = path.join(stateDir, '..', `${path.basename(stateDir)}-commit`);
    try {
      const committed = await run(['--commit', commitDir, '--', '/bin/sh', '-c', script]);
      expect(committed.exitCode).toBe(0);
      expect(committed.stderr).toContain(`committed to ${commitDir}`);
      expect(fs.readFileSync(path.join(commitDir, 'etc', 'new-file'), 'utf8')).toBe('written\n');
      expect(fs.readFileSync(path.join(commitDir, 'etc', 'passwd'), 'utf8')).toBe('changed\n');
      expect(fs.existsSync(path.join(commitDir, 'etc', 'hostname'))).toBe(false);
      expect(fs.existsSync(path.join(commitDir, 'bin', 'busybox'))).toBe(true);
      expect(treeSnapshot(root)).toEqual(before);
    } finally {
      fs.rmSync(commitDir, { recursive: true, force: true });
    }
  });

  it('OOM-kills a process allocating past --memory and says so', async () => {
    const { result, exitCode } = await runJson(['--memory', '32M', '--swap', '0', '--', '/bin/tail', '/dev/zero']);
    expect(exitCode).toBe(137);
    expect(result.exitCode).toBe(137);
    expect(result.usage.oomKills).toBeGreaterThanOrEqual(1);
    expect(result.killedBy).toContain('killed: memory limit 32M reached');
    expect(result.usage.memoryPeakBytes).toBeGreaterThan(16 * 1024 * 1024);
    expect(result.usage.memoryPeakBytes).toBeLessThanOrEqual(32 * 1024 * 1024);
    const plain = await run(['--memory', '32M', '--swap', '0', '--', '/bin/tail', '/dev/zero']);
    expect(plain.exitCode).toBe(137);
    expect(plain.stderr).toContain('kiwi: killed: memory limit 32M reached');
  });

  it('stops a fork bomb at --pids', async () => {
    // The bomb's shells die when a fork fails, so PID 1 samples the process count with builtins only.
    const script = 'bomb() { bomb & bomb; }; bomb 2>/dev/null & max=0; i=0; while [ $i -lt 3000 ]; do set -- /proc/[0-9]*; [ $# -gt $max ] && max=$#; i=$((i+1)); done; echo max=$max; kill -9 -1 2>/dev/null; exit 0';
    const { result, events } = await runJson(['--pids', '32', '--', '/bin/sh', '-c', script]);
    const output = events.filter((event) => event.type === 'log' && event.stream === 'stdout').map((event) => (event as { message: string }).message);
    const max = Number(/max=(\d+)/.exec(output.join('\n'))?.[1]);
    // The limit was hit (pidsLimitHits below); how close the sampler came to 32 depends on the
    // host's load, so only the upper bound is exact.
    expect(max).toBeGreaterThan(1);
    expect(max).toBeLessThanOrEqual(32);
    expect(result.usage.pidsLimitHits).toBeGreaterThan(0);
    expect(result.killedBy).toContain('pids limit 32 reached');
  });

  it('caps CPU time with --cpus 0.5 (two busy loops for 2 s)', async () => {
    const busy = ['--', '/bin/sh', '-c', 'timeout 2 sh -c "while :; do :; done" & timeout 2 sh -c "while :; do :; done"; wait'];
    const capped = await runJson(['--cpus', '0.5', ...busy]);
    const free = await runJson(busy);
    const ratio = (result: ResultEvent): number => result.usage.cpuUsec! / 1000 / result.wallMs;
    expect(capped.result.wallMs).toBeGreaterThanOrEqual(1900);
    expect(ratio(capped.result)).toBeLessThanOrEqual(0.6);
    expect(ratio(capped.result)).toBeGreaterThan(0.3);
    expect(ratio(free.result)).toBeGreaterThan(0.8);
  });

  it('binds host paths, read-only with :ro', async () => {
    const shared = tempDir('kiwi-bind-');
    fs.writeFileSync(path.join(shared, 'hello'), 'from host\n');
    try {
      const done = await run(['--quiet', '--bind', `${shared}:/data:ro`, '--', '/bin/sh', '-c', 'cat /data/hello; touch /data/x 2>/dev/null && echo writable || echo read-only']);
      expect(done.stdout).toBe('from host\nread-only');
      expect(fs.existsSync(path.join(shared, 'x'))).toBe(false);
    } finally {
      fs.rmSync(shared, { recursive: true, force: true });
    }
  });

  it('runs in an unpacked --image tarball', async () => {
    const image = path.join(os.tmpdir(), `kiwi-image-${process.pid}.tar.xz`);
    await execa('tar', ['-C', root, '-cJf', image, '.']);
    try {
      const done = await kiwi(['run', '--quiet', '--image', image, '--', '/bin/cat', '/etc/hostname'], { env: env() });
      expect(done.exitCode).toBe(0);
      expect(done.stdout).toBe('lower');
    } finally {
      fs.rmSync(image, { force: true });
    }
  });

  it('emits the event protocol with --json and logs every step with --debug', async () => {
    const { events } = await runJson(['--', '/bin/echo', 'hi']);
    expect(events.filter((event) => event.type === 'step' && event.state === 'done').map((event) => (event as { id: string }).id))
      .toEqual(['preflight', 'cleanup', 'cgroup', 'run', 'teardown']);
    expect(events).toContainEqual({ type: 'log', level: 'info', stream: 'stdout', message: 'hi' });
    const debug = await kiwi(['--debug', 'run', '--root', root, '--memory', '64M', '--', '/bin/true'], { env: env() });
    expect(debug.stderr).toMatch(/cgroup write \S+memory\S* = 67108864/);
    expect(debug.stderr).toContain('namespace: pid, uts, ipc namespaces');
    expect(debug.stderr).toContain('mount: mount proc on /proc');
    expect(debug.stderr).toContain('run sh -c');
  });

  it('rejects bad usage with exit 2 before creating anything', async () => {
    const cgroupsBefore = kiwiCgroups();
    for (const args of [['--', ], ['--memory', 'lots', '--', '/bin/true'], ['--cpus', '0', '--', '/bin/true'], ['--bind', 'nope', '--', '/bin/true']]) {
      const done = await run(args);
      expect(done.exitCode, args.join(' ')).toBe(2);
      expect(done.stderr).toMatch(/^error: /m);
    }
    expect(kiwiCgroups()).toEqual(cgroupsBefore);
    expect(fs.readdirSync(stateDir)).toEqual([]);
  });
});
