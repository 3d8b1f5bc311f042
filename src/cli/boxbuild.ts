import type { Command } from 'commander';
import { EnvironmentError } from '../common/errors.js';
import { printBoxList } from './box-list.js';
import { runCommand } from './run-command.js';

/**
 * `kiwi boxbuild`: so far only --list-boxes works; building in a box needs the VM,
 * share and runtime parts, which are not in this version yet.
 */
export function registerBoxbuild(program: Command): void {
  program
    .command('boxbuild')
    .description('build an image inside a box VM (so far: --list-boxes)')
    .option('--list-boxes', 'list the boxes of the catalog (as kiwi box list)')
    .option('--json', 'with --list-boxes: print JSON')
    .allowExcessArguments()
    .action((options: { listBoxes?: boolean; json?: boolean }) =>
      runCommand(async () => {
        if (options.listBoxes) return printBoxList(Boolean(options.json));
        throw new EnvironmentError('kiwi boxbuild cannot build yet: this version has the box catalog and cache only', {
          hint: 'use kiwi boxbuild --list-boxes or kiwi box fetch',
        });
      }),
    );
}
