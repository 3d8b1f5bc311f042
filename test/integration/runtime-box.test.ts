import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decodeEvent, type ResultEvent, type RuntimeEvent } from '../../src/protocol/events.js';
import { ensureTestBox, TEST_BOX_CACHE } from '../fixtures/box/built-box.js';
import { processesUnder, vmDirsUnder } from '../fixtures/processes.js';
import { kiwi, makeBusyboxRoot, treeSnapshot } from '../fixtures/runtime/busybox-root.js';
import { waitFor } from '../fixtures/wait-for.js';
import { tempDir } from '../fixtures/temp-dir.js';

// `kiwi run --box debian`: the same container runtime, run inside a fresh VM of the box
// (TCG), on a busybox root tree of this machine shared into the box as the overlay's lower
// layer. What runtime-run.test.ts checks natively, checked here through the box.
const canRun = process.getuid?.() === 0 && fs.existsSync('/usr/bin/qemu-system-x86_64') && fs.existsSync('/usr/bin/mmdebstrap');
const BOOT_AND_RUN_MS = 5 * 60_000;

describe.skipIf(!canRun)('kiwi run --box (debian box, TCG)', () => {
  let root: string;
  let runtimeDir: string;
  const env = (): Record<string, string> => ({ KIWI_BOXED_CACHE_DIR: TEST_BOX_CACHE, XDG_RUNTIME_DIR: runtimeDir });
  const run = (args: string[]) => kiwi(['run', '--box', 'debian', '--no-update-check', '--root', root, ...args], { env: env(), timeoutMs: BOOT_AND_RUN_MS });

  async function runJson(args: string[]): Promise<{ events: RuntimeEvent[]; result: ResultEvent; exitCode: number }> {
    const done = await run(['--json', ...args]);
    const events = String(done.stdout).split('\n').filter(Boolean).map(decodeEvent);
    const results = events.filter((event): event is ResultEvent => event.type === 'result');
    // Exactly one: the box runtime's, passed through.
    if (results.length !== 1) throw new Error(`${results.length} result events; stderr: ${String(done.stderr)}`);
    const result = results[0]!;
    return { events, result, exitCode: done.exitCode ?? -1 };
  }

  const stdoutOf = (events: RuntimeEvent[]): string =>
    events.filter((event) => event.type === 'log' && event.stream === 'stdout').map((event) => (event as { message: string }).message).join('\n');

  beforeAll(async () => {
    await ensureTestBox();
    root = makeBusyboxRoot();
    runtimeDir = tempDir('kiwi-rt-');
  }, 30 * 60_000);
  afterAll(() => {
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(runtimeDir, { recursive: true, force: true });
  });
  // Every run, however it ended, takes its VM and QEMU with it.
  afterEach(() => {
    expect(vmDirsUnder(runtimeDir)).toEqual([]);
    expect(processesUnder(runtimeDir, /^qemu-system|virtiofsd/)).toEqual([]);
  });

  it('runs the command as PID 1 with its own hostname and mounts, passing stdout, stderr and the exit code through', { timeout: BOOT_AND_RUN_MS }, async () => {
    const script = 'echo "pid=$$ host=$(hostname)"; echo to-stderr >&2; grep -c "" /proc/mounts; grep -q 9p /proc/mounts && echo sees-box-shares; exit 42';
    const done = await run(['--quiet', '--hostname', 'in-box', '--', '/bin/sh', '-c', script]);
    expect(done.exitCode, String(done.stderr)).toBe(42);
    const [first, mountCount] = String(done.stdout).split('\n');
    expect(first).toBe('pid=1 host=in-box');
    // The container's own mounts only (root, proc, sys, dev, pts, shm, mqueue, tmp, run, resolv.conf...), not the box's shares.
    expect(Number(mountCount)).toBeLessThan(20);
    expect(String(done.stdout)).not.toContain('sees-box-shares');
    expect(String(done.stderr)).toMatch(/^to-stderr$/m);
  });

  it('leaves the shared lower root untouched, and --commit saves the merged result back on this machine', { timeout: 2 * BOOT_AND_RUN_MS }, async () => {
    const before = treeSnapshot(root);
    const script = 'echo written > /etc/new-file && rm /etc/hostname && echo changed > /etc/passwd';
    const plain = await run(['--quiet', '--', '/bin/sh', '-c', script]);
    expect(plain.exitCode, String(plain.stderr)).toBe(0);
    expect(treeSnapshot(root)).toEqual(before);
    // --commit's parent is shared writable into the box, so it must be a directory of its own.
    const straightInTmp = await run(['--commit', `${runtimeDir}-commit`, '--', '/bin/true']);
    expect(straightInTmp.exitCode).toBe(2);
    expect(String(straightInTmp.stderr)).toContain('/tmp itself cannot be shared into a box');
    const commitParent = tempDir('kiwi-commit-');
    const commitDir = path.join(commitParent, 'tree');
    try {
      const committed = await run(['--commit', commitDir, '--', '/bin/sh', '-c', script]);
      expect(committed.exitCode, String(committed.stderr)).toBe(0);
      expect(String(committed.stderr)).toContain(`committed to ${commitDir}`);
      expect(fs.readFileSync(path.join(commitDir, 'etc', 'new-file'), 'utf8')).toBe('written\n');
      expect(fs.readFileSync(path.join(commitDir, 'etc', 'passwd'), 'utf8')).toBe('changed\n');
      expect(fs.existsSync(path.join(commitDir, 'etc', 'hostname'))).toBe(false);
      expect(fs.readlinkSync(path.join(commitDir, 'bin', 'sh'))).toBe('busybox');
      expect(fs.statSync(path.join(commitDir, 'bin', 'busybox')).mode & 0o777).toBe(0o755);
      expect(treeSnapshot(root)).toEqual(before);
    } finally {
      fs.rmSync(commitParent, { recursive: true, force: true });
    }
  });

  it('OOM-kills a process allocating past --memory and says so', { timeout: BOOT_AND_RUN_MS }, async () => {
    const { result, exitCode } = await runJson(['--memory', '32M', '--swap', '0', '--', '/bin/tail', '/dev/zero']);
    expect(exitCode).toBe(137);
    expect(result.usage.oomKills).toBeGreaterThanOrEqual(1);
    expect(result.killedBy).toContain('killed: memory limit 32M reached');
    expect(result.usage.memoryPeakBytes).toBeLessThanOrEqual(32 * 1024 * 1024);
  });

  it('stops a fork bomb at --pids', { timeout: BOOT_AND_RUN_MS }, async () => {
    const script = 'bomb() { bomb & bomb; }; bomb 2>/dev/null & max=0; i=0; while [ $i -lt 1000 ]; do set -- /proc/[0-9]*; [ $# -gt $max ] && max=$#; i=$((i+1)); done; echo max=$max; kill -9 -1 2>/dev/null; exit 0';
    const { result, events } = await runJson(['--pids', '32', '--', '/bin/sh', '-c', script]);
    const max = Number(/max=(\d+)/.exec(stdoutOf(events))?.[1]);
    expect(max).toBeGreaterThan(1);
    expect(max).toBeLessThanOrEqual(32);
    expect(result.usage.pidsLimitHits).toBeGreaterThan(0);
    expect(result.killedBy).toContain('pids limit 32 reached');
  });

  it('has only loopback with --network none, and the box\'s network without', { timeout: 2 * BOOT_AND_RUN_MS }, async () => {
    const links = async (args: string[]): Promise<string[]> => {
      const done = await run(['--quiet', ...args, '--', '/bin/ip', '-o', 'link']);
      expect(done.exitCode, String(done.stderr)).toBe(0);
      return String(done.stdout).trim().split('\n').map((line) => line.split(': ')[1]!);
    };
    expect(await links(['--network', 'none'])).toEqual(['lo']);
    // The box's own links: loopback and its one virtio NIC.
    const shared = await links([]);
    expect(shared).toHaveLength(2);
    expect(shared).toContain('lo');
  });

  it.each(['SIGINT', 'SIGTERM', 'SIGKILL'] as const)('%s to kiwi mid-command takes the box down; nothing is left once the next kiwi command starts', { timeout: 2 * BOOT_AND_RUN_MS }, async (signal) => {
    // --debug: kiwi's steps with their times on stderr, to tell where a run that never starts stopped.
    const child = run(['--debug', '--', '/bin/sh', '-c', 'echo started; sleep 300']);
    let output = '';
    let steps = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (steps += chunk.toString()));
    // A kiwi that failed before the command started ends the wait at once.
    expect(await waitFor(() => output.includes('started') || child.exitCode !== null, BOOT_AND_RUN_MS)).toBe(true);
    expect(output, `the command never started; kiwi's stderr:\n${steps}`).toContain('started');
    expect(processesUnder(runtimeDir, /^qemu-system/)).toHaveLength(1);
    child.kill(signal);
    const stopped = await child;
    if (signal !== 'SIGKILL') expect(stopped.exitCode).toBe(signal === 'SIGINT' ? 130 : 143);
    // A SIGKILLed kiwi cannot clean up: QEMU follows it down, and the next kiwi command removes its VM directory.
    expect(await waitFor(() => processesUnder(runtimeDir, /^qemu-system|virtiofsd/).length === 0, 10_000), `QEMU outlived kiwi by 10 s; kiwi's stderr:\n${steps}`).toBe(true);
    if (signal === 'SIGKILL') {
      expect(vmDirsUnder(runtimeDir), steps).toHaveLength(1);
      const next = await run(['--quiet', '--', '/bin/true']);
      expect(next.exitCode, String(next.stderr)).toBe(0);
    }
  });

  it('caps CPU time with --cpus 0.5 (two busy loops for 2 s)', { timeout: BOOT_AND_RUN_MS }, async () => {
    const busy = ['--', '/bin/sh', '-c', 'timeout 2 sh -c "while :; do :; done" & timeout 2 sh -c "while :; do :; done"; wait'];
    const { result } = await runJson(['--cpus', '0.5', ...busy]);
    expect(result.wallMs).toBeGreaterThanOrEqual(1900);
    expect(result.usage.cpuUsec! / 1000 / result.wallMs).toBeLessThanOrEqual(0.6);
    expect(result.usage.cpuUsec! / 1000 / result.wallMs).toBeGreaterThan(0.2);
  });
});
