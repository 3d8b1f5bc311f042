/**
 * bench/boot: wall time of `kiwi box shell debian -- true` from start to exit under TCG,
 * several runs, against a bare `qemu -kernel` boot of the same kernel to its panic (no root
 * disk) in the same run. A second boot per run runs a command that reads the guest's clock
 * and dmesg instead of `true`, for the breakdown.
 *
 *   npx tsx bench/boot.ts [--runs 5]      (the debian box must be in the cache)
 *
 * Breakdown per run: kiwi's own start-up until QEMU runs; the guest's kernel until /init,
 * the initramfs, the box init until sshd listens (guest clock, from dmesg); SSH connect
 * and the command (until kiwi sees SSH ready); power-off and exit.
 */
import { parseArgs } from 'node:util';
import path from 'node:path';
import { execa } from 'execa';
import { loadCatalog } from '../src/box/catalog.js';
import { cacheRoot } from '../src/box/paths.js';
import { readCurrent } from '../src/box/store.js';
import { median } from './median.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const runs = Number(values.runs);
const kiwi = path.resolve('bin/kiwi.js');
loadCatalog();

interface Sample {
  wall: number;
  qemuStarted: number;
  sshReady: number;
  guestInit: number;
  guestModules: number;
  guestSshd: number;
  guestUptimeAtCommand: number;
}

async function bootOnce(): Promise<Sample> {
  const started = performance.now();
  const result = await execa(process.execPath, [kiwi, '--debug', 'box', 'shell', 'debian', '--no-update-check', '--',
    'sh', '-c', 'cat /proc/uptime; dmesg | grep -E "Run /init|kiwi-"']);
  const wall = (performance.now() - started) / 1000;
  const ready = /QEMU started at ([\d.]+)s, SSH ready at ([\d.]+)s/.exec(result.stderr);
  const at = (pattern: string): number => Number(new RegExp(`\\[\\s*([\\d.]+)\\] ${pattern}`).exec(result.stdout)?.[1] ?? NaN);
  return {
    wall,
    qemuStarted: Number(ready?.[1]),
    sshReady: Number(ready?.[2]),
    guestInit: at('Run /init'),
    guestModules: at('kiwi-initramfs: modules loaded'),
    guestSshd: at('kiwi-box: sshd listening'),
    guestUptimeAtCommand: Number(result.stdout.split(' ')[0]),
  };
}

/** `kiwi box shell debian -- true`, start to exit, in seconds. */
async function trueOnce(): Promise<number> {
  const started = performance.now();
  await execa(process.execPath, [kiwi, 'box', 'shell', 'debian', '--no-update-check', '--', 'true']);
  return (performance.now() - started) / 1000;
}

async function bareQemuOnce(kernel: string): Promise<number> {
  const started = performance.now();
  await execa('qemu-system-x86_64', ['-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot', '-machine', 'q35',
    '-accel', 'tcg', '-cpu', 'max', '-m', '2048', '-bios', '/usr/share/qemu/qboot.rom', '-kernel', kernel,
    '-append', 'console=ttyS0 quiet panic=-1', '-serial', 'none'], { reject: false });
  return (performance.now() - started) / 1000;
}

const box = await readCurrent(cacheRoot(), 'debian', 'x86_64');
if (!box) throw new Error(`no debian box in ${cacheRoot()}: kiwi box build debian first`);
const kernel = path.join(box.dir, box.manifest.files.find((file) => file.role === 'kernel')!.path);

const samples: Sample[] = [];
const bare: number[] = [];
const trues: number[] = [];
console.log('| run | kiwi box shell -- true (s) | kiwi box shell -- CMD (s) | QEMU started | kernel → /init (guest) | initramfs modules | box init → sshd | SSH ready (host) | bare qemu to panic (s) |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (let run = 1; run <= runs; run += 1) {
  const trueTime = await trueOnce();
  const sample = await bootOnce();
  const bareTime = await bareQemuOnce(kernel);
  trues.push(trueTime);
  samples.push(sample);
  bare.push(bareTime);
  console.log(`| ${run} | ${trueTime.toFixed(2)} | ${sample.wall.toFixed(2)} | ${sample.qemuStarted.toFixed(2)} | ${sample.guestInit.toFixed(2)} | ${(sample.guestModules - sample.guestInit).toFixed(2)} | ${(sample.guestSshd - sample.guestModules).toFixed(2)} | ${sample.sshReady.toFixed(2)} | ${bareTime.toFixed(2)} |`);
}
const pick = (key: keyof Sample): number => median(samples.map((sample) => sample[key]));
console.log(`\nmedian: kiwi box shell -- true ${median(trues).toFixed(2)} s; with the breakdown command ${pick('wall').toFixed(2)} s (SSH ready at ${pick('sshReady').toFixed(2)} s; guest: /init at ${pick('guestInit').toFixed(2)} s, modules at ${pick('guestModules').toFixed(2)} s, sshd at ${pick('guestSshd').toFixed(2)} s); bare qemu to panic ${median(bare).toFixed(2)} s`);
