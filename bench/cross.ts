/**
 * bench/cross: the debian-minimal tbz built with `kiwi boxbuild` for aarch64 by each
 * cross method (vm: the aarch64 box under full emulation; binfmt: the x86_64 box running
 * arm64 programs through qemu-user) against the x86_64 build, in one run.
 *
 *   npm run build && KIWI_BOXED_CACHE_DIR=<box cache> npx tsx bench/cross.ts [--methods native,binfmt,vm] [--runs 1] [--warm] [--seed-layers DIR]
 *
 * --seed-layers DIR: the builds run on a box cache of their own that links the boxes of
 * KIWI_BOXED_CACHE_DIR and gives each box's build cache disk the bootstrap layers of the
 * native build cache DIR (DIR/bootstrap/<key>, as `kiwi build` and `kiwi build --target-arch
 * aarch64` of the description made them): a bootstrap through qemu-user inside the emulated
 * x86_64 box (binfmt) takes hours under TCG, and the same inputs make the same layer.
 *
 * Each method first gets one build whose bootstrap layer may be cold (reported as "first");
 * the timed runs after it find the layer on the box's build cache disk, as a user's second
 * build does. With --warm the caches are known to be warm and the first build is left out
 * (every timed run still checks that its bootstrap came from the cache). Wall time of the
 * whole kiwi boxbuild process (boot, build, compress).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { seedBuildCacheDisk } from '../test/fixtures/box/seeded-cache-disk.js';
import { cacheRoot } from '../src/box/paths.js';
import { bootstrapLayerPaths, buildCachePaths } from '../src/builder/paths.js';
import { median } from './median.js';

const { values } = parseArgs({
  options: {
    methods: { type: 'string', default: 'native,binfmt,vm' },
    runs: { type: 'string', default: '1' },
    warm: { type: 'boolean', default: false },
    'seed-layers': { type: 'string' },
  },
});
const methods = values.methods.split(',');
const runs = Number(values.runs);
const kiwi = path.resolve('bin/kiwi.js');
const description = path.resolve('descriptions/debian-minimal');

// Ctrl-C or SIGTERM: stop the running build (kiwi cleans up its VM), then the finally blocks and
// the exit handler remove the target and the seeded box cache.
const cancel = new AbortController();
// `on`, not `once`: execa's exit hook re-raises a signal that finds no other listener left.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => cancel.abort());

const boxCache = values['seed-layers'] ? await seededBoxCache(path.resolve(values['seed-layers'])) : undefined;

/** A box cache linking the debian box of the user's, both arches' build cache disks seeded with the layers in DIR/bootstrap. */
async function seededBoxCache(buildCache: string): Promise<string> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kiwi-bench-cross-cache-'));
  process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }));
  fs.symlinkSync(path.join(cacheRoot(), 'debian'), path.join(root, 'debian'));
  const cache = buildCachePaths(buildCache);
  const layers = fs
    .readdirSync(cache.bootstrapDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
    .map((entry) => bootstrapLayerPaths(cache, entry.name))
    .map((layer) => ({ dir: layer.dir, arch: (JSON.parse(fs.readFileSync(layer.meta, 'utf8')) as { inputs: { arch: string } }).inputs.arch }));
  const forArch = (debArch: string) => layers.filter((layer) => layer.arch === debArch).map((layer) => layer.dir);
  // The x86_64 box builds for amd64 (native) and arm64 (binfmt); the aarch64 box for arm64 (vm).
  await seedBuildCacheDisk(root, 'debian', 'x86_64', [...forArch('amd64'), ...forArch('arm64')]);
  await seedBuildCacheDisk(root, 'debian', 'aarch64', forArch('arm64'));
  console.error(`box cache ${root}: build cache disks seeded from ${buildCache}/bootstrap`);
  return root;
}

const METHOD_ARGS: Record<string, string[]> = {
  native: [],
  binfmt: ['--aarch64', '--cross', 'binfmt'],
  vm: ['--aarch64', '--cross', 'vm'],
};

interface Run {
  seconds: number;
  bootstrap: string;
}

async function boxbuild(method: string): Promise<Run> {
  const target = fs.mkdtempSync(path.join(os.tmpdir(), `kiwi-bench-cross-${method}-`));
  try {
    const started = performance.now();
    const done = await execa(process.execPath, [kiwi, 'boxbuild', '--box', 'debian', '--no-update-check', '--json', ...METHOD_ARGS[method]!, '--', '--description', description, '--target-dir', target], {
      reject: false,
      cancelSignal: cancel.signal,
      env: { CI: '1', ...(boxCache ? { KIWI_BOXED_CACHE_DIR: boxCache } : {}) },
    });
    const seconds = (performance.now() - started) / 1000;
    if (done.isCanceled) throw new Error('cancelled');
    if (done.exitCode !== 0) throw new Error(`${method} build failed (exit ${done.exitCode}):\n${done.stderr.slice(-3000)}`);
    const result = JSON.parse(done.stdout.trim().split('\n').pop()!) as { bootstrap: string; image: string };
    const expectedArch = method === 'native' ? 'x86_64' : 'aarch64';
    if (!path.basename(result.image).includes(`.${expectedArch}-`)) throw new Error(`${method} built ${result.image}, not an ${expectedArch} image`);
    return { seconds, bootstrap: result.bootstrap };
  } finally {
    fs.rmSync(target, { recursive: true, force: true });
  }
}

const rows: { method: string; first: Run | undefined; timed: number[] }[] = [];
for (const method of methods) {
  if (!METHOD_ARGS[method]) throw new Error(`unknown method ${method} (native, binfmt, vm)`);
  const first = values.warm ? undefined : await boxbuild(method);
  if (first) console.error(`${method}: first build ${first.seconds.toFixed(0)} s (bootstrap ${first.bootstrap})`);
  const timed: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    const again = await boxbuild(method);
    if (again.bootstrap !== 'cached') throw new Error(`${method}: the bootstrap layer was not cached on the second build`);
    timed.push(again.seconds);
    console.error(`${method}: run ${run + 1} ${again.seconds.toFixed(0)} s`);
  }
  rows.push({ method, first, timed });
}

const native = rows.find((row) => row.method === 'native');
console.log(`| method | first build (bootstrap) | warm build, median of ${runs} | × x86_64 warm |`);
console.log('|---|---|---|---|');
for (const row of rows) {
  const warm = median(row.timed);
  const ratio = native ? (warm / median(native.timed)).toFixed(2) : 'n/a';
  const first = row.first ? `${row.first.seconds.toFixed(0)} s (${row.first.bootstrap})` : 'not run (--warm)';
  console.log(`| ${row.method} | ${first} | ${warm.toFixed(0)} s | ${ratio}× |`);
}
