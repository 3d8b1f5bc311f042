import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerBoxBuild } from './box-build.js';
import { registerBoxFetch } from './box-fetch.js';
import { registerBoxList } from './box-list.js';
import { registerBoxPrune } from './box-prune.js';
import { registerBoxRm } from './box-rm.js';
import { registerBoxShell } from './box-shell.js';
import { registerBatch } from './batch.js';
import { registerBoxbuild } from './boxbuild.js';
import { registerBuild } from './build.js';
import { registerDoctor } from './doctor.js';
import { registerRun } from './run.js';
import { cliState, reportError } from './run-command.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export function buildProgram(): Command {
  const program = new Command('kiwi')
    .description('build operating-system images inside throw-away QEMU boxes')
    .version(version)
    .option('--debug', 'show stack traces and every step taken')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .hook('preAction', (command) => {
      cliState.debug = Boolean(command.optsWithGlobals().debug);
    });

  registerBoxbuild(program);
  registerBatch(program);
  registerBuild(program);
  registerRun(program);
  registerDoctor(program);
  const box = program.command('box').description('manage boxes: list, fetch, shell, rm, prune').exitOverride();
  registerBoxList(box);
  registerBoxFetch(box);
  registerBoxBuild(box);
  registerBoxRm(box);
  registerBoxPrune(box);
  registerBoxShell(box);
  return program;
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  process.exit(reportError(error));
}
