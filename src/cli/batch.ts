import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { KiwiError, UsageError } from '../common/errors.js';
import type { BatchEntry } from '../schedule/batch.js';
import type { BatchBuild } from '../schedule/batch-file.js';
import { checkBoxBuild } from './box-build-check.js';
import { parseBoxOptions, parseDiskSize } from './box-options.js';
import { runCommand } from './run-command.js';

interface BatchOptions {
  jobs?: string;
  failFast?: boolean;
  json?: boolean;
  updateCheck: boolean;
  accel: string;
  boxDiskSize: string;
}

export function registerBatch(program: Command): void {
  program
    .command('batch')
    .description('run the builds a YAML file lists, at once, each in its own box VM')
    .argument('<file>', 'batch file (YAML): builds: [{ description, target-dir, box, type, profiles, args, ... }]')
    .option('--jobs <n>', 'at most this many builds at once (default: what free memory and cores allow)')
    .option('--fail-fast', 'stop every build at the first failure')
    .option('--json', 'print the outcome of every build as one JSON object on stdout')
    .option('--no-update-check', 'use the cached boxes as they are, without network')
    .option('--accel <accel>', 'kvm, tcg or auto (KVM when it really works)', 'auto')
    .option('--box-disk-size <size>', 'size of the boxes\' build cache disk', '32G')
    .addHelpText(
      'after',
      [
        '',
        'Batch file:',
        '  builds:',
        '    - name: minimal                     # default: the description directory\'s name',
        '      description: descriptions/debian-minimal   # paths relative to the file',
        '      target-dir: out/minimal',
        '      box: debian                       # default debian',
        '      arch: aarch64                     # the image\'s arch; cross: vm|binfmt for a foreign one',
        '      type: tbz                         # profiles: [P, ...]; args: [--add-package, vim]',
        '      box-memory: 2G                    # box-smp-cpus: 2; sharing: 9p|virtiofs|sshfs',
        '',
        'Every build is checked before any box boots. Each build\'s full log is in its',
        'target dir (build/image-root.log). Exit code 1 if any build failed.',
      ].join('\n'),
    )
    .action((file: string, options: BatchOptions) =>
      runCommand(async (signal) => {
        const [{ loadBatchFile }, { runBatch }, { concurrentBuilds }, { BuildProgress, summaryTable }] = await Promise.all([
          import('../schedule/batch-file.js'),
          import('../schedule/batch.js'),
          import('../schedule/resource-budget.js'),
          import('../ui/build-progress.js'),
        ]);
        const builds = loadBatchFile(path.resolve(file));
        const entries = await prepareEntries(builds, options, signal);
        const jobs = options.jobs === undefined ? undefined : parseJobs(options.jobs);
        const concurrency = concurrentBuilds({
          availableMiB: os.freemem() / 1024 ** 2,
          cores: os.availableParallelism(),
          jobs,
          vms: entries.map((entry) => ({ memoryMiB: entry.memoryMiB, cpus: entry.cpus })),
        });
        process.stderr.write(`kiwi: ${entries.length} builds, ${concurrency} at a time\n`);
        const progress = new BuildProgress(entries.map((entry) => entry.name));
        let outcomes;
        try {
          outcomes = await runBatch(entries, {
            concurrency,
            failFast: Boolean(options.failFast),
            onEvent: (name, event) => progress.onEvent(name, event),
            onState: (name, state) => (state === 'running' ? progress.started(name) : progress.ended(name, { status: state.status, seconds: state.seconds, ...(state.error ? { message: state.error.message } : {}) })),
            signal,
          });
        } finally {
          await progress.close();
        }
        if (options.json) {
          process.stdout.write(`${JSON.stringify({ type: 'batch', concurrency, builds: outcomes })}\n`);
        } else {
          const rows = outcomes.map((outcome) => ({
            name: outcome.name,
            status: outcome.status,
            seconds: outcome.seconds,
            peakMemoryBytes: outcome.result?.peakMemoryBytes,
            outputs: outcome.result ? [path.basename(outcome.result.image), path.basename(outcome.result.packages)] : [],
          }));
          process.stdout.write(`${summaryTable(rows)}\n`);
          for (const outcome of outcomes.filter((candidate) => candidate.error)) {
            process.stderr.write(`kiwi: ${outcome.name} failed: ${outcome.error!.message}\n  log: ${path.join(outcome.targetDir, 'build', 'image-root.log')}\n`);
          }
        }
        return outcomes.every((outcome) => outcome.status === 'built') ? 0 : 1;
      }),
    );
}

/** Checks every build as kiwi boxbuild would (arguments, description, box) before any VM starts. */
async function prepareEntries(builds: BatchBuild[], options: BatchOptions, signal: AbortSignal): Promise<(BatchEntry & { memoryMiB: number; cpus: number })[]> {
  const [{ loadCatalog }, { cacheRoot }, { readCurrent }] = await Promise.all([
    import('../box/catalog.js'),
    import('../box/paths.js'),
    import('../box/store.js'),
  ]);
  const catalog = loadCatalog();
  const root = cacheRoot();
  const entries: (BatchEntry & { memoryMiB: number; cpus: number })[] = [];
  for (const build of builds) {
    try {
      const settings = parseBoxOptions({
        accel: options.accel,
        boxTimeout: '120',
        updateCheck: options.updateCheck,
        ...(build.boxMemory !== undefined ? { boxMemory: build.boxMemory } : {}),
        ...(build.boxCpus !== undefined ? { boxSmpCpus: String(build.boxCpus) } : {}),
        ...(build.sharing === 'virtiofs' ? { virtiofsSharing: true } : build.sharing === 'sshfs' ? { sshfsSharing: true } : {}),
      });
      const { args, model, boxArch } = await checkBoxBuild({ box: build.box, requestedArch: build.arch, cross: build.cross ?? 'auto', buildArgv: build.buildArgs, catalog, signal });
      const cached = await readCurrent(root, build.box, boxArch);
      entries.push({
        name: build.name,
        memoryMiB: settings.memoryMiB ?? cached?.manifest.memoryMiB ?? 2048,
        cpus: settings.cpus ?? cached?.manifest.cpus ?? 2,
        job: {
          boot: { cacheRoot: root, catalog, name: build.box, ...settings, arch: boxArch },
          args,
          model,
          sharedPaths: [],
          diskSizeBytes: parseDiskSize(options.boxDiskSize),
        },
      });
    } catch (error) {
      if (error instanceof KiwiError) error.message = `build ${build.name}: ${error.message}`;
      throw error;
    }
  }
  return entries;
}

function parseJobs(text: string): number {
  const jobs = Number(text);
  if (!/^\d+$/.test(text) || jobs < 1) throw new UsageError(`--jobs ${text}: must be a whole number of at least 1`);
  return jobs;
}
