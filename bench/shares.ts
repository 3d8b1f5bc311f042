/**
 * bench/shares: each share backend (9p, virtiofs, sshfs) against the box's own disk, in one
 * run: write a 1 GiB file, and create 10,000 small files (4 KiB, in directories of 100).
 * Timed inside the box (its clock), so boot and shutdown are not counted.
 *
 *   npm run build && KIWI_BOXED_CACHE_DIR=<cache with the debian box> npx tsx bench/shares.ts [--runs 3] [--files 10000]
 *
 * The box-local figures are on the box's root disk (ext4 on the VM's qcow2 overlay, which
 * lives in kiwi's runtime directory: tmpfs when that is /run or $XDG_RUNTIME_DIR, so the
 * baseline is as fast as the host's memory). Each share run writes into a fresh host
 * directory under the system temp dir, removed afterwards. Prints a table per run and the
 * median ratios share / box-local.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { median } from './median.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, files: { type: 'string', default: '10000' } } });
const runs = Number(values.runs);
const files = Number(values.files);
const kiwi = path.resolve('bin/kiwi.js');
const BACKENDS = ['9p', 'virtiofs', 'sshfs'] as const;

/**
 * Node script run in the box (by the box's runtime Node) that creates the small files in $1
 * and prints "small SECONDS": one process, because a process per file would measure fork and
 * exec under emulation rather than the share.
 */
const SMALL_FILES = `
const fs = require('node:fs');
const { execFileSync } = require('node:child_process');
const [dir, count] = [process.argv[1], Number(process.argv[2])];
const block = Buffer.alloc(4096);
const start = process.hrtime.bigint();
for (let i = 0; i < count; i += 1) {
  const sub = dir + '/small/' + Math.floor(i / 100);
  if (i % 100 === 0) fs.mkdirSync(sub, { recursive: true });
  fs.writeFileSync(sub + '/f' + i, block);
}
execFileSync('sync');
console.log('small ' + Number(process.hrtime.bigint() - start) / 1e9);
`;
/** Shell run in the box for the directory $1: prints "large SECONDS", then runs SMALL_FILES ($2). */
const WORKLOAD = `
set -e
t() { date +%s.%N; }
dir=$1
a=$(t); dd if=/dev/zero of="$dir/large" bs=4M count=256 conv=fsync status=none; b=$(t)
echo "large $(awk "BEGIN { print $b - $a }")"
/opt/kiwi/node/bin/node -e "$2" "$dir" ${files}
rm -rf "$dir/large" "$dir/small"
`;

async function measure(backend: (typeof BACKENDS)[number] | 'box-local'): Promise<{ large: number; small: number }> {
  const host = fs.mkdtempSync(path.join(os.tmpdir(), 'kiwi-bench-shares-'));
  try {
    const shareArgs = backend === 'box-local' ? [] : ['--share', `${host}:/mnt/share`, `--${backend}-sharing`];
    const dir = backend === 'box-local' ? '/var/tmp/bench' : '/mnt/share';
    const result = await execa(process.execPath, [kiwi, 'box', 'shell', 'debian', '--no-update-check', ...shareArgs, '--', 'sh', '-c', `mkdir -p ${dir}; ${WORKLOAD}`, 'bench', dir, SMALL_FILES], { env: { CI: '1' }, reject: false });
    if (result.exitCode !== 0) throw new Error(`${backend}: exit ${result.exitCode}\n${result.stderr}`);
    const figure = (name: string): number => Number(new RegExp(`^${name} ([\\d.]+)$`, 'm').exec(result.stdout)?.[1]);
    return { large: figure('large'), small: figure('small') };
  } finally {
    fs.rmSync(host, { recursive: true, force: true });
  }
}

const samples = new Map<string, { large: number[]; small: number[] }>();
console.log(`| run | where | 1 GiB write (s) | MiB/s | ${files} small files (s) | files/s |`);
console.log('|---|---|---|---|---|---|');
for (let run = 1; run <= runs; run += 1) {
  for (const where of ['box-local', ...BACKENDS] as const) {
    const figure = await measure(where);
    const entry = samples.get(where) ?? { large: [], small: [] };
    entry.large.push(figure.large);
    entry.small.push(figure.small);
    samples.set(where, entry);
    console.log(`| ${run} | ${where} | ${figure.large.toFixed(2)} | ${(1024 / figure.large).toFixed(0)} | ${figure.small.toFixed(1)} | ${(files / figure.small).toFixed(0)} |`);
  }
}
const local = samples.get('box-local')!;
console.log('\nmedian speed against the box\'s own disk (1.0 = as fast):');
for (const backend of BACKENDS) {
  const entry = samples.get(backend)!;
  console.log(`- ${backend}: large file ${(median(local.large) / median(entry.large)).toFixed(2)}×, small files ${(median(local.small) / median(entry.small)).toFixed(2)}×`);
}
