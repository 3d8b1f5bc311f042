import os from 'node:os';
import type { Command } from 'commander';
import { shellQuote } from '../common/shell-quote.js';
import type { RunningBox } from '../vm/boot-box.js';
import { buildIfUnavailable } from './box-first-use.js';
import { addBoxOptions, parseBoxOptions, type BoxOptionValues } from './box-options.js';
import { interactiveShell } from './interactive-shell.js';
import { cliState, runCommand } from './run-command.js';

export function registerBoxShell(box: Command): void {
  addBoxOptions(
    box
      .command('shell')
      .description('boot a fresh VM of a box and open a shell in it, or run a command (-- CMD ARGS)')
      .argument('<name>', 'box name')
      .argument('[command...]', 'command to run instead of a shell (after --)'),
  ).action((name: string, command: string[], values: BoxOptionValues) =>
    runCommand(async (signal) => {
      const settings = parseBoxOptions(values);
      const [{ loadCatalog, resolveBox }, { cacheRoot }, { bootBox }] = await Promise.all([
        import('../box/catalog.js'),
        import('../box/paths.js'),
        import('../vm/boot-box.js'),
      ]);
      const catalog = loadCatalog();
      const { manifest } = resolveBox(catalog, name, settings.arch);
      await buildIfUnavailable(name, settings.arch, manifest, signal);
      const started = Date.now();
      const running = await bootBox({
        cacheRoot: cacheRoot(),
        catalog,
        name,
        ...settings,
        onNotice: (message) => process.stderr.write(`kiwi: ${message}\n`),
        ...(settings.console ? { onConsole: (text: string) => process.stderr.write(text) } : {}),
        signal,
      });
      const onAbort = (): void => void running.shutdown();
      signal.addEventListener('abort', onAbort);
      try {
        if (values.boxConsole || cliState.debug) {
          const { qemuStarted, sshReady } = running.timings;
          process.stderr.write(
            `kiwi: ${name} ready in ${((Date.now() - started) / 1000).toFixed(1)}s (${running.accel}; QEMU started at ${(qemuStarted / 1000).toFixed(2)}s, SSH ready at ${(sshReady / 1000).toFixed(2)}s)\n`,
          );
        }
        // A VM killed under the command drops its channel, with or without an error: say so instead.
        const whyLost = async (): Promise<Error | undefined> => (signal.aborted ? undefined : running.lost());
        let exitCode: number;
        try {
          exitCode = command.length > 0 ? await runInBox(running, command) : await interactiveShell(running.session);
        } catch (error) {
          throw (await whyLost()) ?? error;
        }
        const lost = await whyLost();
        if (lost) throw lost;
        return exitCode;
      } finally {
        signal.removeEventListener('abort', onAbort);
        await running.shutdown();
      }
    }),
  );
}

async function runInBox(running: RunningBox, command: string[]): Promise<number> {
  const result = await running.session.exec(shellQuote(command), { stdout: process.stdout, stderr: process.stderr });
  // A command killed by a signal exits like a shell reports it: 128 + signal number.
  const signal = result.signal ? os.constants.signals[`SIG${result.signal.replace(/^SIG/, '')}` as NodeJS.Signals] : undefined;
  return result.exitCode ?? 128 + (signal ?? 1);
}
