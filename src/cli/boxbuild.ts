import path from 'node:path';
import type { Command } from 'commander';
import { encodeEvent, errorEvent } from '../protocol/events.js';
import { KiwiError, UsageError } from '../common/errors.js';
import { formatBytes, formatDuration } from '../common/units.js';
import { shellQuote } from '../common/shell-quote.js';
import type { BoxBuildJob } from '../schedule/box-build.js';
import { buildDisplay } from '../ui/build-events.js';
import { checkBoxBuild } from './box-build-check.js';
import { printBoxList } from './box-list.js';
import { addBoxOptions, collect, parseBoxOptions, parseDiskSize, requestedArch, type BoxOptionValues } from './box-options.js';
import { parseCrossChoice } from '../schedule/cross-method.js';
import { interactiveShell } from './interactive-shell.js';
import { cliState, runCommand } from './run-command.js';

interface BoxbuildOptions extends BoxOptionValues {
  box?: string;
  listBoxes?: boolean;
  json?: boolean;
  sharedPath: string[];
  boxDiskSize: string;
  cross?: string;
  boxDebug?: boolean;
}

export function registerBoxbuild(program: Command): void {
  addBoxOptions(
    program
      .command('boxbuild')
      .description('build an image inside a box VM: kiwi boxbuild --box NAME -- BUILD ARGS')
      .argument('[build-args...]', 'kiwi build\'s arguments, after --')
      .option('--box <name>', 'the box to build in (kiwi box list shows them)')
      .option('--list-boxes', 'list the boxes of the catalog (as kiwi box list)')
      .option('--shared-path <dir>', 'also share this host directory, at the same path, e.g. a local repository (repeatable)', collect, [])
      .option('--box-disk-size <size>', 'size of the box\'s build cache disk (sparse; a bare number is GiB)', '32G')
      .option('--box-debug', 'after the build, built or failed, open a shell in the box (a failed build\'s root tree kept); exit it to finish')
      .option('--cross <method>', 'for another architecture\'s image: vm (boot that arch\'s box) or binfmt (qemu-user in this host\'s box)')
      .option('--json', 'print one JSON result object on stdout at the end (with --list-boxes: the list)'),
    'image (and box) architecture',
  )
    .addHelpText(
      'after',
      [
        '',
        'BUILD ARGS (after --) are kiwi build\'s, checked before the box boots:',
        '  --description DIR --target-dir DIR [--type T] [--profile P]... (see kiwi build --help)',
        '',
        'The description is shared read-only and the target dir read-write, each at its own path.',
        'The image is compressed on this machine after the box has built it.',
        'An image for another architecture (--aarch64, or --target-arch aarch64 after --) is built',
        'with --cross binfmt in this host\'s box through qemu-user, or with --cross vm in the aarch64',
        'box under full emulation. Default: binfmt when KVM runs this host\'s box, else vm.',
        '',
        'Example:',
        '  kiwi boxbuild --box debian -- --description descriptions/debian-minimal --target-dir out/',
      ].join('\n'),
    )
    .action((buildArgv: string[], options: BoxbuildOptions) =>
      runCommand(async (signal) => {
        if (options.listBoxes) return printBoxList(Boolean(options.json));
        const json = Boolean(options.json);
        try {
          const settings = parseBoxOptions(options);
          if (!options.box) throw new UsageError('no box given', { hint: 'kiwi boxbuild --box debian -- --description DIR --target-dir DIR (kiwi box list shows the boxes)' });
          const diskSizeBytes = parseDiskSize(options.boxDiskSize);
          if (options.boxDebug && !(process.stdin.isTTY && process.stdout.isTTY)) {
            throw new UsageError('--box-debug opens a shell in the box and needs a terminal', { hint: 'run it from an interactive terminal, without --box-debug in scripts and CI' });
          }
          const [{ loadCatalog }, { cacheRoot }, { buildInBox }] = await Promise.all([import('../box/catalog.js'), import('../box/paths.js'), import('../schedule/box-build.js')]);
          const catalog = loadCatalog();
          const { args, model, boxArch } = await checkBoxBuild({ box: options.box, requestedArch: requestedArch(options), cross: parseCrossChoice(options.cross), accel: settings.accel, buildArgv, catalog, signal });
          // A live task list would draw over the debug shell: plain lines then.
          const display = buildDisplay(model.name, cliState.debug ? 'debug' : 'normal', { live: !options.boxDebug });
          const result = await display.track(
            buildInBox({
              boot: {
                cacheRoot: cacheRoot(),
                catalog,
                name: options.box,
                ...settings,
                arch: boxArch,
                onNotice: (message) => process.stderr.write(`kiwi: ${message}\n`),
                ...(settings.console ? { onConsole: (text: string) => process.stderr.write(text) } : {}),
              },
              args,
              model,
              sharedPaths: options.sharedPath.map((dir) => path.resolve(dir)),
              diskSizeBytes,
              emit: display.emit,
              ...(options.boxDebug ? { debugBox: openDebugShell(args.targetDir) } : {}),
              signal,
            }),
          );
          process.stderr.write(`kiwi: built ${result.image} (${formatBytes(result.sizeBytes)}) in ${formatDuration(result.seconds)} in box ${options.box}\n`);
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

/** --box-debug: a shell in the box after the build, its environment pointing at what to look at. */
function openDebugShell(targetDir: string): NonNullable<BoxBuildJob['debugBox']> {
  return async (box, { failed, failedRoot }) => {
    const log = path.join(targetDir, 'build', 'image-root.log');
    process.stderr.write(
      [
        `kiwi: --box-debug: the build ${failed ? 'failed' : 'finished'}; a shell in the box follows (exit it to power the box off).`,
        `kiwi:   the build log: ${log}`,
        ...(failed ? [`kiwi:   the failed build's root tree: $KIWI_FAILED_ROOT (chroot "$KIWI_FAILED_ROOT" /bin/bash)`] : []),
        '',
      ].join('\n'),
    );
    await interactiveShell(box.session, `export KIWI_FAILED_ROOT=${shellQuote([failedRoot])} KIWI_BUILD_LOG=${shellQuote([log])}; cd ${shellQuote([targetDir])} && `);
  };
}
