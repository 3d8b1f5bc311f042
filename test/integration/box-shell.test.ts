import fs from 'node:fs';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureTestBox, TEST_BOX_CACHE } from '../fixtures/box/built-box.js';
import { tempDir } from '../fixtures/box-fixture.js';
import { processesUnder, vmDirsUnder } from '../fixtures/processes.js';
import { KIWI_BIN, runKiwi } from '../fixtures/run-kiwi.js';
import { waitFor } from '../fixtures/wait-for.js';

// Booting needs the debian box (built once, as root) and QEMU; every boot here runs under TCG.
const canRun = process.getuid?.() === 0 && fs.existsSync('/usr/bin/qemu-system-x86_64') && fs.existsSync('/usr/bin/mmdebstrap');

/** Each test gets its own runtime dir, so its VMs' files and QEMU command lines are its own. */
function shellEnv(): Record<string, string> {
  return { KIWI_BOXED_CACHE_DIR: TEST_BOX_CACHE, XDG_RUNTIME_DIR: tempDir('kiwi-rt-') };
}

function qemuProcessesUnder(dir: string): string[] {
  return processesUnder(dir, /^qemu-system/);
}

/** `kiwi box shell` running a command that sleeps, once that command has started in the box. */
async function startSleepingShell(env: Record<string, string>, flags: string[] = []): Promise<{ child: ResultPromise<{ reject: false }> }> {
  const child = execa(process.execPath, [KIWI_BIN, 'box', 'shell', 'debian', '--no-update-check', ...flags, '--', 'sh', '-c', 'echo started; sleep 300'], {
    env: { CI: '1', ...env },
    reject: false,
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  expect(await waitFor(() => output.includes('started'), 90_000)).toBe(true);
  // Wrapped: the child is a promise, and returning it from an async function would await it.
  return { child };
}

/**
 * Containers' cgroups coming and going while another process allocates memory: what a build
 * does. The kernel flips static keys (rewrites its own code) when the first cgroup with a
 * cpuset, memory or CPU quota appears and the last one goes; under multi-threaded TCG a
 * vCPU can then hang on the rewrite's breakpoint, unless the box keeps them on from boot.
 */
const CGROUP_CHURN = `
cgroups=/sys/fs/cgroup
(while :; do find / -xdev -type f -exec cat {} + >/dev/null 2>&1; echo 3 >/proc/sys/vm/drop_caches; done) &
reader=$!
i=0
while [ $i -lt 400 ]; do
  mkdir $cgroups/churn && echo "50000 100000" >$cgroups/churn/cpu.max && rmdir $cgroups/churn || exit 1
  i=$((i + 1))
done
kill $reader
echo "cycles: $i"
dmesg | grep -c "soft lockup" || true
`;

describe.skipIf(!canRun)('kiwi box shell (debian box, TCG)', () => {
  beforeAll(async () => {
    await ensureTestBox();
  }, 30 * 60_000);

  it('runs commands in two VMs of the same box at once, with their output and exit codes (and the console with --box-console)', async () => {
    const env = shellEnv();
    const [uname, failing] = await Promise.all([
      runKiwi(['box', 'shell', 'debian', '--no-update-check', '--box-console', '--', 'uname', '-m'], { env }),
      runKiwi(['box', 'shell', 'debian', '--no-update-check', '--', 'sh', '-c', 'echo to-stdout; echo to-stderr >&2; exit 7'], { env }),
    ]);
    expect(uname.exitCode).toBe(0);
    expect(uname.stdout).toBe('x86_64');
    // --box-console: the serial console on stderr while the box boots.
    expect(uname.stderr).toMatch(/^kiwi-box: ready \([\d.]+ s after kernel start\)/m);
    expect(failing.exitCode).toBe(7);
    expect(failing.stdout).toBe('to-stdout');
    expect(failing.stderr).toContain('to-stderr');
    expect(qemuProcessesUnder(env.XDG_RUNTIME_DIR!)).toEqual([]);
    expect(vmDirsUnder(env.XDG_RUNTIME_DIR!)).toEqual([]);
  });

  it('--no-snapshot keeps the root disk\'s changes for the next --no-snapshot VM only', { timeout: 5 * 60_000 }, async () => {
    const env = shellEnv();
    const shell = (flags: string[], command: string) => runKiwi(['box', 'shell', 'debian', '--no-update-check', ...flags, '--', 'sh', '-c', command], { env });
    const marker = `kept-${process.pid}-${Date.now()}`;
    const wrote = await shell(['--no-snapshot'], `echo ${marker} > /root/kept.txt`);
    expect(wrote.exitCode, String(wrote.stderr)).toBe(0);
    const [kept, pristine] = await Promise.all([shell(['--no-snapshot'], 'cat /root/kept.txt'), shell([], 'cat /root/kept.txt 2>/dev/null || echo absent')]);
    expect(String(kept.stdout).trim()).toBe(marker);
    expect(String(pristine.stdout).trim()).toBe('absent');
    // One --no-snapshot VM at a time: a second one while the first runs is refused.
    const { child } = await startSleepingShell(env, ['--no-snapshot']);
    const second = await shell(['--no-snapshot'], 'true');
    expect(second.exitCode).toBe(3);
    expect(String(second.stderr)).toMatch(/another --no-snapshot VM of debian \(x86_64\) is running/);
    child.kill('SIGINT');
    await child;
    expect(vmDirsUnder(env.XDG_RUNTIME_DIR!)).toEqual([]);
  });

  it('leaves no QEMU, VM directory or port behind after Ctrl-C', async () => {
    const env = shellEnv();
    const { child } = await startSleepingShell(env);
    expect(qemuProcessesUnder(env.XDG_RUNTIME_DIR!)).toHaveLength(1);
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode).toBe(130);
    expect(qemuProcessesUnder(env.XDG_RUNTIME_DIR!)).toEqual([]);
    expect(vmDirsUnder(env.XDG_RUNTIME_DIR!)).toEqual([]);
  });

  it('takes QEMU down with a SIGKILLed kiwi; the next run cleans its files', async () => {
    const env = shellEnv();
    const { child } = await startSleepingShell(env);
    child.kill('SIGKILL');
    await child;
    expect(await waitFor(() => qemuProcessesUnder(env.XDG_RUNTIME_DIR!).length === 0, 5000)).toBe(true);
    expect(vmDirsUnder(env.XDG_RUNTIME_DIR!)).toHaveLength(1);
    const next = await runKiwi(['box', 'shell', 'debian', '--no-update-check', '--', 'true'], { env });
    expect(next.exitCode).toBe(0);
    expect(vmDirsUnder(env.XDG_RUNTIME_DIR!)).toEqual([]);
  });

  it('says so when the VM is killed under a command: exit 3 with QEMU\'s signal, nothing left, the console log kept', async () => {
    const env = shellEnv();
    const { child } = await startSleepingShell(env);
    const [vm] = vmDirsUnder(env.XDG_RUNTIME_DIR!);
    process.kill(Number(fs.readFileSync(path.join(env.XDG_RUNTIME_DIR!, 'kiwi', 'vms', vm!, 'qemu.pid'), 'utf8')), 'SIGKILL');
    const result = await child;
    expect(result.exitCode, String(result.stderr)).toBe(3);
    expect(String(result.stderr)).toMatch(/^error: the box's VM stopped while kiwi was using it: QEMU was killed by SIGKILL$/m);
    const kept = /^hint: the whole console log is in (\S+); kiwi removed what the run left; run it again$/m.exec(String(result.stderr))?.[1];
    expect(fs.readFileSync(kept!, 'utf8')).toMatch(/kiwi-box: ready/);
    expect(qemuProcessesUnder(env.XDG_RUNTIME_DIR!)).toEqual([]);
    expect(vmDirsUnder(env.XDG_RUNTIME_DIR!)).toEqual([]);
  });

  it('fails a boot that exceeds --box-timeout with exit code 3, the console tail and where the vCPUs were', async () => {
    const env = shellEnv();
    const result = await runKiwi(['box', 'shell', 'debian', '--no-update-check', '--box-timeout', '1', '--', 'true'], { env });
    expect(result.exitCode).toBe(3);
    expect(result.stderr).toMatch(/^error: the box did not answer on SSH \(127\.0\.0\.1:\d+\) within 1s$/m);
    expect(result.stderr).toMatch(/^console(: nothing printed yet| \(last lines\):)$/m);
    // Both vCPUs of the booting box, read from the live QEMU through its QMP socket.
    expect(result.stderr).toMatch(/^vCPUs \(all registers in \S+-registers\.txt beside the console log\):\nCPU#0 [ER]IP=[0-9a-f]+ CPL=\d HLT=[01]\nCPU#1 [ER]IP=[0-9a-f]+ /m);
    const kept = /^hint: the whole console log is in (\S+);/m.exec(result.stderr)?.[1];
    expect(kept && fs.existsSync(kept)).toBe(true);
    expect(fs.readFileSync(kept!.replace(/-console\.log$/, '-registers.txt'), 'utf8')).toMatch(/^CPU#1$/m);
    expect(qemuProcessesUnder(env.XDG_RUNTIME_DIR!)).toEqual([]);
    expect(vmDirsUnder(env.XDG_RUNTIME_DIR!)).toEqual([]);
  });

  it('stays responsive while cgroups come and go under memory load (the static keys stay on from boot)', { timeout: 5 * 60_000 }, async () => {
    const env = shellEnv();
    const result = await runKiwi(['box', 'shell', 'debian', '--no-update-check', '--', 'sh', '-c', CGROUP_CHURN], { env });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout.split('\n')).toEqual(['cycles: 400', '0']);
  });

  it('builds a recipe box on first use when nothing is cached and no server publishes it', async () => {
    // A fresh cache that shares only the recipe stages already built (hard links), so the
    // build on first use assembles and installs the box without a cold mmdebstrap.
    const cache = tempDir('kiwi-first-use-');
    await execa('cp', ['-al', path.join(TEST_BOX_CACHE, '.build'), path.join(cache, '.build')]);
    const env = { ...shellEnv(), KIWI_BOXED_CACHE_DIR: cache };
    const result = await runKiwi(['box', 'shell', 'debian', '--', 'cat', '/etc/hostname'], { env });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toBe('kiwi-box');
    expect(result.stderr).toMatch(/box debian \(x86_64\) is not cached and no server publishes it: building it from its recipe/);
    const list = JSON.parse((await runKiwi(['box', 'list', '--json'], { env })).stdout) as { name: string; arch: string; verified: boolean }[];
    expect(list.find((row) => row.name === 'debian' && row.arch === 'x86_64')?.verified).toBe(true);
    fs.rmSync(cache, { recursive: true, force: true });
  });
});
