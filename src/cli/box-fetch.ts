import type { Command } from 'commander';
import type { EnsuredBox } from '../box/ensure-box.js';
import { hostArch, parseArch } from '../common/arch.js';
import { formatBytes } from '../common/units.js';
import { runCommand } from './run-command.js';

interface FetchOptions {
  arch?: string;
  updateCheck: boolean;
  json?: boolean;
}

export function registerBoxFetch(box: Command): void {
  box
    .command('fetch')
    .description('download a box into the cache and verify it (or check it is up to date)')
    .argument('<name>', 'box name from the catalog (kiwi box list)')
    .option('--arch <arch>', 'box architecture (x86_64, aarch64); default: this host')
    .option('--no-update-check', 'use the cached box as it is, without network')
    .option('--json', 'print the result as JSON')
    .action((name: string, options: FetchOptions) =>
      runCommand(async (signal) => {
        const arch = parseArch(options.arch ?? hostArch());
        const [{ loadCatalog, resolveBox }, { ensureBox }, { cacheRoot }, { fetchProgressRenderer }, { createTaskList, isInteractive }] =
          await Promise.all([
            import('../box/catalog.js'),
            import('../box/ensure-box.js'),
            import('../box/paths.js'),
            import('../ui/fetch-progress.js'),
            import('../ui/task-list.js'),
          ]);
        const catalog = loadCatalog();
        resolveBox(catalog, name, arch);
        const interactive = isInteractive();
        let result: EnsuredBox | undefined;
        await createTaskList([
          {
            title: `box ${name} (${arch})`,
            task: async (_context, task) => {
              result = await ensureBox({
                root: cacheRoot(),
                catalog,
                name,
                arch,
                updateCheck: options.updateCheck,
                onEvent: fetchProgressRenderer((line) => (task.output = line), interactive),
                signal,
              });
              task.title = `box ${name} (${arch}): ${result.version.id} ${result.status}`;
            },
          },
        ]).run();
        const { version, status } = result!;
        if (options.json) {
          const summary = { name, arch, id: version.id, status, dir: version.dir, diskBytes: version.diskBytes, verified: version.verified };
          process.stdout.write(`${JSON.stringify(summary)}\n`);
        } else {
          process.stdout.write(`${name} (${arch}) ${version.id}: ${status}, ${formatBytes(version.diskBytes)} in ${version.dir}\n`);
        }
      }),
    );
}
