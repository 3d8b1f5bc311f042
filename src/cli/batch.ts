import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { KiwiError, UsageError } from '../common/errors.js';
import type { BatchEntry } from '../schedule/batch.js';
import type { PackPlan } from '../schedule/resource-budget.js';
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
  pack?: boolean;
}

export function registerBatch(program: Command): void {
  program
    .command('batch')
    .description('run the builds a YAML file lists, at once, each in its own box VM')
    .argument('<file>', 'batch file (YAML): builds: [{ description, target-dir, box, type, profiles, args, ... }]')
    .option('--jobs <n>', 'at most this many builds at once (default: what free memory and cores allow)')
    .option('--fail-fast', 'stop every build at the first failure')
    .option('--pack', 'several builds in one VM (each in its own container with a share of its memory); --jobs: at most N per VM')
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
        'Without --pack each build gets its own VM; with it, the builds of one box share a VM.',
        'Every build is checked before any box boots. Each build\'s full log is in its',
        'target dir (build/image-root.log). Exit code 1 if any build failed.',
      ].join('\n'),
    )
    .action((file: string, options: BatchOptions) =>
      runCommand(async (signal) => {
        const [{ loadBatchFile }, { runBatch }, { concurrentBuilds, planPacks }, { BuildProgress, summaryTable }] = await Promise.all([
          import('../schedule/batch-file.js'),
          import('../schedule/batch.js'),
          import('../schedule/resource-budget.js'),
          import('../ui/build-progress.js'),
        ]);
        const builds = loadBatchFile(path.resolve(file));
        const entries = await prepareEntries(builds, options, signal);
        const jobs = options.jobs === undefined ? undefined : parseJobs(options.jobs);
        const host = { availableMiB: os.freemem() / 1024 ** 2, cores: os.availableParallelism() };
        const units = options.pack ? packedUnits(entries, planPacks({ ...host, jobs, builds: entries })) : entries.map((entry) => [entry]);
        const concurrency = concurrentBuilds({
          ...host,
          jobs: options.pack ? undefined : jobs,
          vms: units.map((unit) => ({ memoryMiB: unit[0]!.box.boot.memoryMiB ?? unit[0]!.memoryMiB, cpus: unit[0]!.box.boot.cpus ?? unit[0]!.cpus })),
        });
        process.stderr.write(
          options.pack
            ? `kiwi: ${entries.length} builds in ${units.length} VM${units.length === 1 ? '' : 's'} (${units.map((unit) => `${unit.length} builds, ${unit[0]!.box.boot.memoryMiB} MiB`).join('; ')}), ${concurrency} VM${concurrency === 1 ? '' : 's'} at a time\n`
            : `kiwi: ${entries.length} builds, ${concurrency} at a time\n`,
        );
        const progress = new BuildProgress(entries.map((entry) => entry.name));
        let outcomes;
        try {
          outcomes = await runBatch(units, {
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

/** A checked build with what packing needs: which builds may share a VM, and its own VM's size. */
type CheckedEntry = BatchEntry & { key: string; memoryMiB: number; cpus: number };

/** The VMs of --pack: each plan's builds, the VM sized by the plan and each build held to its share. */
function packedUnits(entries: CheckedEntry[], plans: PackPlan[]): CheckedEntry[][] {
  return plans.map((plan) =>
    plan.builds.map((index) => {
      const entry = entries[index]!;
      return {
        ...entry,
        box: { ...entry.box, boot: { ...entry.box.boot, memoryMiB: plan.memoryMiB, cpus: plan.cpus } },
        build: { ...entry.build, memoryMaxBytes: plan.memoryMaxMiB * 1024 ** 2 },
      };
    }),
  );
}

/** Checks every build as kiwi boxbuild would (arguments, description, box) before any VM starts. */
async function prepareEntries(builds: BatchBuild[], options: BatchOptions, signal: AbortSignal): Promise<CheckedEntry[]> {
  const [{ loadCatalog }, { cacheRoot }, { readCurrent }] = await Promise.all([
    import('../box/catalog.js'),
    import('../box/paths.js'),
    import('../box/store.js'),
  ]);
  const catalog = loadCatalog();
  const root = cacheRoot();
  const entries: CheckedEntry[] = [];
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
      const { args, model, boxArch } = await checkBoxBuild({ box: build.box, requestedArch: build.arch, cross: build.cross ?? 'auto', accel: settings.accel, buildArgv: build.buildArgs, catalog, signal });
      const cached = await readCurrent(root, build.box, boxArch);
      entries.push({
        name: build.name,
        key: [build.box, boxArch, settings.accel, settings.shareBackend].join('/'),
        memoryMiB: settings.memoryMiB ?? cached?.manifest.memoryMiB ?? 2048,
        cpus: settings.cpus ?? cached?.manifest.cpus ?? 2,
        box: { boot: { cacheRoot: root, catalog, name: build.box, ...settings, arch: boxArch }, diskSizeBytes: parseDiskSize(options.boxDiskSize) },
        build: { args, model, sharedPaths: [] },
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
