import path from 'node:path';
import type { Command } from 'commander';
import type { BoxBuildResult } from '../box/recipe/build-box.js';
import { hostArch, parseArch, type Arch } from '../common/arch.js';
import { formatBytes, formatDuration } from '../common/units.js';
import { runCommand } from './run-command.js';

interface BuildOptions {
  arch?: string;
  output?: string;
  force?: boolean;
  json?: boolean;
}

export function registerBoxBuild(box: Command): void {
  box
    .command('build')
    .description('build a box from its recipe (boxes/NAME/recipe.yaml) with distribution packages, into the cache')
    .argument('<name>', 'box name (a folder of boxes/ with a recipe.yaml)')
    .option('--arch <arch>', 'box architecture (x86_64, aarch64); default: this host')
    .option('--output <dir>', 'also write the box (files and box.json) to DIR, to publish it')
    .option('--force', 'rebuild every stage instead of reusing what did not change')
    .option('--json', 'print the result as JSON')
    .action((name: string, options: BuildOptions) =>
      runCommand(async (signal) => {
        const arch = parseArch(options.arch ?? hostArch());
        const started = performance.now();
        const result = await buildBoxWithProgress({
          name,
          arch,
          ...(options.output ? { outputDir: path.resolve(options.output) } : {}),
          force: options.force ?? false,
          signal,
        });
        const seconds = (performance.now() - started) / 1000;
        const size = result.manifest.files.reduce((sum, file) => sum + file.size, 0);
        if (options.json) {
          const summary = { name, arch, version: result.manifest.version, id: result.version.id, status: result.status, dir: result.version.dir, bytes: size, seconds, stages: result.stages, output: options.output ? path.resolve(options.output) : null };
          process.stdout.write(`${JSON.stringify(summary)}\n`);
        } else {
          const verb = result.status === 'up-to-date' ? 'up to date' : 'built';
          process.stdout.write(`${name} (${arch}) ${result.version.id}: ${verb} in ${formatDuration(seconds)}, ${formatBytes(size)} in ${result.version.dir}\n`);
        }
      }),
    );
}

/** Builds a box from its recipe with one listr2 task per stage (also used to build a box on first use). */
export async function buildBoxWithProgress(options: { name: string; arch: Arch; outputDir?: string; force: boolean; signal: AbortSignal }): Promise<BoxBuildResult> {
  const [{ loadCatalog }, { cacheRoot }, { planBoxBuild }, { createTaskList }] = await Promise.all([
    import('../box/catalog.js'),
    import('../box/paths.js'),
    import('../box/recipe/build-box.js'),
    import('../ui/task-list.js'),
  ]);
  const notices: string[] = [];
  const plan = await planBoxBuild({ cacheRoot: cacheRoot(), catalog: loadCatalog(), ...options, onNotice: (message) => notices.push(message) });
  try {
    await createTaskList(
      plan.stages.map((stage) => ({
        title: stage.title,
        task: async (_context, task) => {
          const outcome = await stage.run((line) => (task.output = line));
          task.title = `${stage.title}: ${outcome}`;
        },
      })),
    ).run();
  } finally {
    await plan.close();
    // After the task list, whose redraws would wipe a line printed while it runs.
    for (const notice of notices) process.stderr.write(`kiwi: ${notice}\n`);
  }
  return plan.result();
}
