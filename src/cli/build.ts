import type { Command } from 'commander';
import { hostArch } from '../common/arch.js';
import { encodeEvent, errorEvent } from '../protocol/events.js';
import { KiwiError } from '../common/errors.js';
import { formatBytes, formatDuration } from '../common/units.js';
import { buildDisplay } from '../ui/build-events.js';
import { cliState, runCommand } from './run-command.js';

export function registerBuild(program: Command): void {
  program
    .command('build')
    .description('build an image from a KIWI description natively on this machine (root)')
    .option('--json', 'print one JSON result object on stdout at the end')
    .allowUnknownOption()
    .allowExcessArguments()
    .helpOption('-h, --help', 'show this help')
    .addHelpText(
      'after',
      [
        '',
        'BUILD ARGS:',
        '  --description DIR --target-dir DIR [--type tbz|oci|docker|oem] [--profile P]...',
        '  [--kiwi-file NAME] [--set-repo URI,...] [--add-repo URI,TYPE,ALIAS,...] [--add-package P]',
        '  [--delete-package P] [--signing-key FILE] [--target-arch x86_64|aarch64]',
        '',
        'Caches: $KIWI_BUILD_CACHE_DIR (default /var/cache/kiwi): bootstrap and packages layers, downloaded packages, compressed image chunks.',
        'Results in the target dir: NAME.ARCH-VERSION.tar.xz (tbz), .oci.tar.xz / .docker.tar.xz or .raw (oem),',
        'NAME.ARCH-VERSION.packages, kiwi.result.json, and the log build/image-root.log.',
        '',
        'Example:',
        '  kiwi build --description descriptions/debian-minimal --target-dir out/',
      ].join('\n'),
    )
    .action((options: { json?: boolean }, command: Command) =>
      runCommand(async (signal) => {
        const json = Boolean(options.json);
        try {
          const [{ parseBuildArgs, toLoadOptions }, { loadImageModel }, { buildImage }, { buildCacheRoot }, { lockTargetDir }] = await Promise.all([
            import('../builder/build-args.js'),
            import('../builder/description/load.js'),
            import('../builder/build.js'),
            import('../builder/paths.js'),
            import('../builder/outputs/target-dir.js'),
          ]);
          const args = parseBuildArgs(command.args, { cwd: process.cwd(), hostArch: hostArch() });
          const model = loadImageModel(toLoadOptions(args));
          const display = buildDisplay(model.name, cliState.debug ? 'debug' : 'normal');
          const targetLock = await lockTargetDir(args.targetDir);
          const result = await display
            .track(buildImage({ model, targetDir: args.targetDir, cacheRoot: buildCacheRoot(), emit: display.emit, signal }))
            .finally(() => targetLock.release());
          process.stderr.write(`kiwi: built ${result.image} (${formatBytes(result.sizeBytes)}) in ${formatDuration(result.seconds)}\n`);
          if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
        } catch (error) {
          if (json && error instanceof KiwiError) {
            process.stdout.write(encodeEvent(errorEvent(error)));
          }
          throw error;
        }
      }),
    );
}
