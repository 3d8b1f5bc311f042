import type { Command } from 'commander';
import { parseArch } from '../common/arch.js';
import { formatBytes } from '../common/units.js';
import { runCommand } from './run-command.js';

export function registerBoxRm(box: Command): void {
  box
    .command('rm')
    .description('remove a box from the cache (all its versions)')
    .argument('<name>', 'box name')
    .option('--arch <arch>', 'only this architecture')
    .action((name: string, options: { arch?: string }) =>
      runCommand(async () => {
        const arch = options.arch === undefined ? undefined : parseArch(options.arch);
        const [{ cacheRoot }, { removeBox }] = await Promise.all([import('../box/paths.js'), import('../box/remove-box.js')]);
        const { freed } = await removeBox(cacheRoot(), name, arch);
        process.stdout.write(`removed ${name}${arch ? ` (${arch})` : ''}: ${formatBytes(freed)} freed\n`);
      }),
    );
}
