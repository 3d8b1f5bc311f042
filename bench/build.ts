/**
 * bench/build: wall time of building the same minimal Debian bookworm root tarball (tbz)
 * three ways, in one run:
 *
 *   (1) native `kiwi build` against KIWI NG 9.24 itself (`kiwi-ng system build`), warm caches;
 *   (2) `kiwi boxbuild --box debian` against native `kiwi build`, warm (with --boxbuild);
 *   (3) native `kiwi build` warm rebuild against its cold build (a fresh, empty cache).
 *
 *   npx tsx bench/build.ts [--runs 3]
 *   KIWI_BOXED_CACHE_DIR=<cache with the debian box> npx tsx bench/build.ts --runs 3 --boxbuild
 *
 * Needs root, mmdebstrap and KIWI NG (apt-get install --no-install-recommends kiwi rsync);
 * --boxbuild needs the debian box in the box cache ($KIWI_BOXED_CACHE_DIR, else the normal one).
 *
 * Caches. kiwi build gets a fresh $KIWI_BUILD_CACHE_DIR in a temp dir: its first build
 * there is the cold figure of (3); the next --runs builds with the same cache are the warm
 * figures of (1) and (3). KIWI NG gets a fresh --shared-cache-dir the same way: its first
 * build is reported as cold, the next --runs as warm (KIWI NG's debootstrap downloads the
 * bootstrap packages every time whatever the cache; only its apt-get phase uses it).
 * boxbuild keeps its build cache on a disk in the box cache, which this script does not own:
 * its first build is a warm-up (shown, not in the medians), then --runs warm builds. Warm
 * runs take turns (the order rotates each run) so no tool always meets a warmer machine.
 *
 * KIWI NG builds bench/kiwi-ng/debian-minimal, the same image as descriptions/debian-minimal
 * (its config.kiwi says what differs), as
 *   GNUPGHOME=<temp> kiwi-ng --type tbz --shared-cache-dir <temp> system build
 *     --description bench/kiwi-ng/debian-minimal --target-dir T
 *     --signing-key /usr/share/keyrings/debian-archive-keyring.gpg
 * (the repositories are repository_gpgcheck="true": KIWI NG wants the keys it trusts given
 * to it and imports them with gpg, which needs a home directory).
 *
 * Times are wall times of the whole command, start-up included; kiwi's own `seconds` (from
 * its --json result line) are shown beside them. Every temp target dir and cache is removed
 * at the end (also on Ctrl-C). Prints a Markdown table, the medians and the ratios.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { median } from './median.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, boxbuild: { type: 'boolean', default: false } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs ${values.runs}: a whole number ≥ 1`);
const repo = path.resolve(import.meta.dirname, '..');
const kiwi = path.join(repo, 'bin/kiwi.js');
const description = 'descriptions/debian-minimal';
const ngDescription = 'bench/kiwi-ng/debian-minimal';
const debianKeyring = '/usr/share/keyrings/debian-archive-keyring.gpg';

const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);
const load = (): string => os.loadavg().map((x) => x.toFixed(2)).join(' ');

async function onPath(command: string): Promise<boolean> {
  return (await execa('sh', ['-c', `command -v ${command}`], { reject: false })).exitCode === 0;
}

// Preconditions, before anything is created.
if (process.getuid?.() !== 0) throw new Error('bench/build needs root (kiwi build runs natively as root only, and so does kiwi-ng)');
for (const [command, hint] of [
  ['mmdebstrap', 'apt-get install mmdebstrap'],
  ['kiwi-ng', 'apt-get install --no-install-recommends kiwi rsync'],
  ['rsync', 'apt-get install rsync (KIWI NG needs it; the kiwi package does not depend on it)'],
  ['gpg', 'apt-get install gpg'],
] as const) {
  if (!(await onPath(command))) throw new Error(`${command} not found: ${hint}`);
}
if (!fs.existsSync(debianKeyring)) throw new Error(`${debianKeyring} not found: apt-get install debian-archive-keyring`);
if (values.boxbuild) {
  const [{ cacheRoot }, { readCurrent }] = await Promise.all([import('../src/box/paths.js'), import('../src/box/store.js')]);
  if (!(await readCurrent(cacheRoot(), 'debian', 'x86_64'))) {
    throw new Error(`no debian box in ${cacheRoot()}: set KIWI_BOXED_CACHE_DIR to a box cache that has it, or kiwi box build debian first`);
  }
}

// Under /var/tmp, not /tmp: KIWI NG bind-mounts its shared cache dir into the image root at
// the same path; with the cache under /tmp, the chroot's /tmp ended up not writable for apt's
// _apt user and KIWI NG failed ("Couldn't create temporary file /tmp/apt.conf.*").
const work = fs.mkdtempSync('/var/tmp/kiwi-bench-build-');
const logs = path.join(work, 'logs');
const kiwiCache = path.join(work, 'kiwi-cache');
const ngCache = path.join(work, 'kiwi-ng-cache');
const gnupgHome = path.join(work, 'gnupg');
fs.mkdirSync(logs);
fs.mkdirSync(gnupgHome, { mode: 0o700 });

// Ctrl-C or SIGTERM: stop the running build (it cleans up after itself), then remove the work dir.
const cancel = new AbortController();
// `on`, not `once`: execa's exit hook re-raises a signal that finds no other listener left.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => cancel.abort());

/** Mount points at or below dir, deepest first (KIWI NG bind-mounts /proc, /dev, /sys and its cache into its image root). */
function mountsUnder(dir: string): string[] {
  const unescape = (field: string) => field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => unescape(line.split(' ')[4] ?? ''))
    .filter((point) => point === dir || point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** rm -rf that never descends into a mount: what is still mounted (a killed KIWI NG) is unmounted first, or the tree is left. */
async function removeTree(dir: string): Promise<void> {
  for (const point of mountsUnder(dir)) await execa('umount', ['--lazy', point], { reject: false });
  const left = mountsUnder(dir);
  if (left.length > 0) {
    console.error(`bench/build: not removing ${dir}: still mounted there: ${left.join(', ')}`);
    return;
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

interface Sample {
  build: string;
  caches: string;
  run: string;
  wall: number;
  /** kiwi's own figure from its --json line (none for KIWI NG). */
  seconds?: number;
  bootstrap?: string;
  imageBytes: number;
}

type Tool = 'kiwi build' | 'KIWI NG' | 'kiwi boxbuild';

function commandFor(tool: Tool, targetDir: string): { file: string; args: string[]; env: Record<string, string> } {
  switch (tool) {
    case 'kiwi build':
      return { file: process.execPath, args: [kiwi, 'build', '--description', description, '--target-dir', targetDir, '--json'], env: { KIWI_BUILD_CACHE_DIR: kiwiCache } };
    case 'kiwi boxbuild':
      return {
        file: process.execPath,
        args: [kiwi, 'boxbuild', '--box', 'debian', '--no-update-check', '--json', '--', '--description', description, '--target-dir', targetDir],
        env: {},
      };
    case 'KIWI NG':
      return {
        file: 'kiwi-ng',
        args: ['--type', 'tbz', '--shared-cache-dir', ngCache, 'system', 'build', '--description', ngDescription, '--target-dir', targetDir, '--signing-key', debianKeyring],
        env: { GNUPGHOME: gnupgHome },
      };
  }
}

/** The result line of kiwi's --json (the last line on stdout). */
function parseKiwiResult(stdout: string): { image: string; seconds: number; bootstrap: string } {
  const line = stdout.trim().split('\n').at(-1) ?? '';
  const result = JSON.parse(line) as { type?: string; image?: string; seconds?: number; bootstrap?: string };
  if (result.type !== 'build' || !result.image || typeof result.seconds !== 'number') throw new Error(`unexpected kiwi --json result: ${line}`);
  return { image: result.image, seconds: result.seconds, bootstrap: result.bootstrap ?? '?' };
}

/** KIWI NG's tarball, from its kiwi.result.json. */
function kiwiNgImage(targetDir: string): string {
  const result = JSON.parse(fs.readFileSync(path.join(targetDir, 'kiwi.result.json'), 'utf8')) as { root_archive?: { filename?: string } };
  const image = result.root_archive?.filename;
  if (!image) throw new Error(`no root_archive in ${targetDir}/kiwi.result.json`);
  return image;
}

let buildNumber = 0;

/** One build into a fresh target dir (removed afterwards); its log goes to logs/ and its tail is shown if it fails. */
async function buildOnce(tool: Tool, caches: string, run: string): Promise<Sample> {
  buildNumber += 1;
  const label = `${buildNumber}-${tool.replace(/\W+/g, '-')}`;
  const targetDir = path.join(work, `target-${label}`);
  const log = path.join(logs, `${label}.log`);
  const { file, args, env } = commandFor(tool, targetDir);
  try {
    const started = process.hrtime.bigint();
    const child = await execa(file, args, {
      cwd: repo,
      env,
      stdin: 'ignore',
      stdout: tool === 'KIWI NG' ? { file: log, append: true } : 'pipe',
      stderr: { file: log, append: true },
      reject: false,
      cancelSignal: cancel.signal,
      forceKillAfterDelay: 120_000,
    });
    const wall = Number(process.hrtime.bigint() - started) / 1e9;
    if (child.isCanceled) throw new Error('cancelled');
    if (child.exitCode !== 0) {
      const tail = fs.readFileSync(log, 'utf8').trimEnd().split('\n').slice(-40).join('\n');
      throw new Error(`${tool} (${caches}, run ${run}) failed with exit code ${child.exitCode}:\n  ${file} ${args.join(' ')}\n${tail}`);
    }
    if (tool === 'KIWI NG') return { build: tool, caches, run, wall, imageBytes: fs.statSync(kiwiNgImage(targetDir)).size };
    const result = parseKiwiResult(String(child.stdout));
    return { build: tool, caches, run, wall, seconds: result.seconds, bootstrap: result.bootstrap, imageBytes: fs.statSync(result.image).size };
  } finally {
    await removeTree(targetDir);
  }
}

const samples: Sample[] = [];
const print = (sample: Sample): void => {
  samples.push(sample);
  console.log(
    `| ${sample.build} | ${sample.caches} | ${sample.run} | ${sample.wall.toFixed(1)} | ${sample.seconds?.toFixed(1) ?? '–'} | ${sample.bootstrap ?? '–'} | ${mib(sample.imageBytes)} |`,
  );
};
const walls = (build: Tool, caches: string): number[] => samples.filter((s) => s.build === build && s.caches === caches).map((s) => s.wall);
const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;
const verdict = (value: number, goal: number): string => (value <= goal ? 'met' : 'not met');

let failed = false;
try {
  console.log(`bench/build: ${runs} warm run(s) each${values.boxbuild ? ', with kiwi boxbuild' : ''}; work dir ${work}; load average at start ${load()}\n`);
  console.log('| build | caches | run | wall (s) | kiwi\'s own (s) | bootstrap layer | image (MiB) |');
  console.log('|---|---|---|---|---|---|---|');
  print(await buildOnce('kiwi build', 'cold', '1'));
  print(await buildOnce('KIWI NG', 'cold', '1'));
  if (values.boxbuild) print(await buildOnce('kiwi boxbuild', 'warm-up', '1'));
  const tools: Tool[] = values.boxbuild ? ['kiwi build', 'KIWI NG', 'kiwi boxbuild'] : ['kiwi build', 'KIWI NG'];
  for (let run = 1; run <= runs; run += 1) {
    const order = tools.map((_, index) => tools[(index + run - 1) % tools.length]!);
    for (const tool of order) print(await buildOnce(tool, 'warm', String(run)));
  }

  const kiwiCold = median(walls('kiwi build', 'cold'));
  const kiwiWarm = median(walls('kiwi build', 'warm'));
  const ngCold = median(walls('KIWI NG', 'cold'));
  const ngWarm = median(walls('KIWI NG', 'warm'));
  console.log(`\nmedian wall times (s): kiwi build cold ${kiwiCold.toFixed(1)}, warm ${kiwiWarm.toFixed(1)}; KIWI NG cold ${ngCold.toFixed(1)}, warm ${ngWarm.toFixed(1)}`);
  console.log('\n| comparison | ratio | goal |\n|---|---|---|');
  console.log(`| (1) kiwi build / KIWI NG, warm | ${ratio(kiwiWarm, ngWarm)} | ≤ 0.5×: ${verdict(kiwiWarm / ngWarm, 0.5)} |`);
  console.log(`| (1') kiwi build / KIWI NG, cold | ${ratio(kiwiCold, ngCold)} | – |`);
  if (values.boxbuild) {
    const boxWarm = median(walls('kiwi boxbuild', 'warm'));
    console.log(`| (2) kiwi boxbuild / kiwi build, warm (boxbuild median ${boxWarm.toFixed(1)} s) | ${ratio(boxWarm, kiwiWarm)} | ≤ 3×: ${verdict(boxWarm / kiwiWarm, 3)} |`);
  }
  console.log(`| (3) kiwi build warm / cold | ${ratio(kiwiWarm, kiwiCold)} | ≤ 0.25×: ${verdict(kiwiWarm / kiwiCold, 0.25)} |`);
  const notReused = samples.filter((s) => s.caches === 'warm' && s.bootstrap !== undefined && s.bootstrap !== 'cached');
  if (notReused.length > 0) {
    console.log(`\nwarning: ${notReused.length} warm kiwi build(s) made their bootstrap layer anew (${notReused.map((s) => `${s.build} run ${s.run}`).join(', ')}): not a warm figure`);
  }
  const sizes = (build: Tool) => median(samples.filter((s) => s.build === build).map((s) => s.imageBytes));
  console.log(`\nimage sizes (median): kiwi build ${mib(sizes('kiwi build'))} MiB, KIWI NG ${mib(sizes('KIWI NG'))} MiB`);
  console.log(`load average at end ${load()}`);
} catch (error) {
  failed = true;
  console.error(`\nbench/build: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  await removeTree(work);
}
process.exitCode = failed ? (cancel.signal.aborted ? 130 : 1) : 0;
