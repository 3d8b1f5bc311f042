import type { Command } from 'commander';
import { formatBytes } from '../common/units.js';
import { runCommand } from './run-command.js';

export function registerBoxPrune(box: Command): void {
  box
    .command('prune')
    .description('drop box versions no box uses and leftovers of interrupted downloads')
    .action(() =>
      runCommand(async () => {
        const [{ cacheRoot }, { pruneCache }] = await Promise.all([import('../box/paths.js'), import('../box/prune-cache.js')]);
        const report = await pruneCache(cacheRoot());
        for (const removed of report.removed) process.stdout.write(`removed ${removed}\n`);
        for (const kept of report.kept) process.stdout.write(`kept ${kept}\n`);
        process.stdout.write(`${formatBytes(report.freed)} freed\n`);
      }),
    );
}
