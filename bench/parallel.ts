/**
 * bench/parallel: 1, 2 and 4 builds of debian-minimal at once with `kiwi batch`, one VM
 * each and packed into one VM (`--pack`), wall time against one build's, and the QEMU
 * resident memory: peak per VM during the builds, and of an idle box (booted, SSH ready,
 * nothing running).
 *
 *   npm run build && KIWI_BOXED_CACHE_DIR=<cache with the debian box> npx tsx bench/parallel.ts [--counts 1,2,4] [--modes vm,pack] [--logs DIR]
 *
 * With --logs, every batch's output and its builds' logs are kept in DIR/<mode>-<count>-<n>/,
 * to tell where a slow run lost its time.
 *
 * The box's build cache must be warm (one kiwi boxbuild of debian-minimal before), so every
 * build reuses the same bootstrap layer and the figures compare like with like.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';

const { values } = parseArgs({ options: { counts: { type: 'string', default: '1,2,4' }, modes: { type: 'string', default: 'vm,pack' }, logs: { type: 'string' } } });
const counts = values.counts.split(',').map(Number);
const modes = values.modes.split(',') as ('vm' | 'pack')[];
const kiwi = path.resolve('bin/kiwi.js');
const description = path.resolve('descriptions/debian-minimal');

/** Resident memory (MiB) of every running QEMU, by pid. */
function qemuRss(): Map<number, number> {
  const rss = new Map<number, number>();
  for (const pid of fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      if (!fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('qemu-system')) continue;
      const kib = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      if (kib) rss.set(Number(pid), Number(kib) / 1024);
    } catch {
      // the process ended while we looked
    }
  }
  return rss;
}

/** Samples QEMU's RSS every second until stopped; the peak per VM. */
function watchRss(): () => number[] {
  const peaks = new Map<number, number>();
  const timer = setInterval(() => {
    for (const [pid, mib] of qemuRss()) peaks.set(pid, Math.max(peaks.get(pid) ?? 0, mib));
  }, 1000);
  return () => {
    clearInterval(timer);
    return [...peaks.values()];
  };
}

async function batchOf(count: number, mode: 'vm' | 'pack'): Promise<{ seconds: number; peaks: number[]; concurrency: number }> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kiwi-bench-parallel-'));
  try {
    const builds = Array.from({ length: count }, (_, index) => `  - name: b${index}\n    description: ${description}\n    target-dir: out/b${index}\n`).join('');
    fs.writeFileSync(path.join(work, 'batch.yaml'), `builds:\n${builds}`);
    const stop = watchRss();
    const started = performance.now();
    const done = await execa(process.execPath, [kiwi, 'batch', path.join(work, 'batch.yaml'), '--no-update-check', '--json', '--jobs', String(count), ...(mode === 'pack' ? ['--pack'] : [])], { reject: false, env: { CI: '1' } });
    const seconds = (performance.now() - started) / 1000;
    const peaks = stop();
    if (values.logs) keepLogs(values.logs, `${mode}-${count}`, work, `${done.stderr}\n`);
    if (done.exitCode !== 0) throw new Error(`${mode} batch of ${count} failed:\n${done.stderr}`);
    return { seconds, peaks, concurrency: (JSON.parse(done.stdout) as { concurrency: number }).concurrency };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** Copies the batch's output and each build's log to a new directory under `logs`. */
function keepLogs(logs: string, name: string, work: string, output: string): void {
  let kept = '';
  for (let n = 1; !kept || fs.existsSync(kept); n += 1) kept = path.join(logs, `${name}-${n}`);
  fs.mkdirSync(kept, { recursive: true });
  fs.writeFileSync(path.join(kept, 'batch.log'), output);
  for (const build of fs.readdirSync(path.join(work, 'out'))) {
    const log = path.join(work, 'out', build, 'build', 'image-root.log');
    if (fs.existsSync(log)) fs.copyFileSync(log, path.join(kept, `${build}.log`));
  }
}

/** QEMU's RSS of a booted, idle box: sampled while `sleep` runs in it. */
async function idleRss(): Promise<number> {
  const child = execa(process.execPath, [kiwi, 'box', 'shell', 'debian', '--no-update-check', '--', 'sh', '-c', 'echo ready; sleep 20'], { reject: false, env: { CI: '1' } });
  await new Promise<void>((resolve) => child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve()));
  await new Promise((resolve) => setTimeout(resolve, 5000));
  const rss = Math.max(...qemuRss().values());
  await child;
  return rss;
}

const idle = await idleRss();
console.log(`idle box: QEMU RSS ${idle.toFixed(0)} MiB\n`);
console.log('| builds | mode | VMs at once | wall (s) | × one build | peak QEMU RSS per VM (MiB) |');
console.log('|---|---|---|---|---|---|');
let one: number | undefined;
for (const mode of modes) {
  for (const count of counts) {
    // One build is the same in both modes: measured once, the baseline of every row.
    if (count === 1 && one !== undefined) continue;
    const result = await batchOf(count, mode);
    one ??= count === 1 ? result.seconds : undefined;
    const ratio = one ? (result.seconds / one).toFixed(2) : '-';
    console.log(`| ${count} | ${mode} | ${result.concurrency} | ${result.seconds.toFixed(0)} | ${ratio} | ${result.peaks.map((mib) => mib.toFixed(0)).join(', ')} |`);
  }
}
