import type { Command } from 'commander';
import fs from 'node:fs';
import { KiwiError } from '../common/errors.js';
import { encodeEvent, errorEvent, type RuntimeEventHandler } from '../protocol/events.js';
import type { RawRunOptions } from '../runtime/run-options.js';
import { renderPlain } from '../ui/runtime-events.js';
import { buildIfUnavailable } from './box-first-use.js';
import { addBoxOptions, collect, parseBoxOptions, type BoxOptionValues } from './box-options.js';
import { cliState, runCommand } from './run-command.js';

interface RunOptions extends RawRunOptions, BoxOptionValues {
  json?: boolean;
  quiet?: boolean;
  box?: string;
}

export function registerRun(program: Command): void {
  const command = program
    .command('run')
    .description('run a command in a container over a root tree (overlayfs, namespaces, cgroup limits)')
    .argument('[command...]', 'the command and its arguments, after --')
    .option('--root <dir>', 'root tree to run in (read-only lower layer; left unchanged)')
    .option('--image <file>', 'root tarball (.tar.xz) to unpack and run in')
    .option('--memory <size>', 'memory limit, e.g. 512M (K, M, G are powers of 1024)')
    .option('--swap <size>', 'swap allowed on top of --memory, e.g. 0')
    .option('--cpus <n>', 'CPU time limit in CPUs, e.g. 1.5')
    .option('--pids <n>', 'maximum number of processes')
    .option('--cpuset <list>', 'CPUs the container may use, e.g. 0 or 0-1')
    .option('--network <mode>', 'box: share this machine\'s network; none: loopback only', 'box')
    .option('--hostname <name>', 'host name inside the container', 'kiwi')
    .option('--bind <src:dst[:ro]>', 'bind a host path into the container (repeatable)', collect, [])
    .option('--workdir <dir>', 'working directory inside the container', '/')
    .option('--commit <dir>', 'after a successful run, save the merged root tree to this new directory')
    .option('--json', 'print the runtime\'s events as JSON lines on stdout (the command\'s output becomes log events)')
    .option('--quiet', 'print nothing but the command\'s own output')
    .option('--box <name>', 'run the container inside a fresh VM of this box (no root or cgroup v2 needed here); paths are shared in at the same paths');
  addBoxOptions(command)
    .addHelpText('after', '\nExamples:\n  kiwi run --root ./rootfs --memory 512M --network none -- /bin/sh -c "echo hello"\n  kiwi run --box debian --image out/debian-minimal.x86_64-1.0.0.tar.xz -- cat /etc/os-release')
    .action((argv: string[], options: RunOptions) =>
      runCommand(async (signal) => {
        const json = Boolean(options.json);
        const plain = renderPlain(options.quiet ? 'quiet' : cliState.debug ? 'debug' : 'normal');
        const emit: RuntimeEventHandler = json ? (event) => process.stdout.write(encodeEvent(event)) : plain;
        try {
          const [{ runContainer }, { expandCpuList }, { Reporter }, { resolveRunOptions }] = await Promise.all([
            import('../runtime/container.js'),
            import('../runtime/quantities.js'),
            import('../runtime/reporter.js'),
            import('../runtime/run-options.js'),
          ]);
          if (options.box) {
            const settings = parseBoxOptions(options);
            const box = options.box;
            const [{ loadCatalog, resolveBox }, { cacheRoot }, { runInBox }] = await Promise.all([import('../box/catalog.js'), import('../box/paths.js'), import('../schedule/box-run.js')]);
            // The box's CPUs, not this machine's, bound --cpuset there; the runtime checks it in the box.
            const spec = resolveRunOptions(options, argv, process.cwd());
            const catalog = loadCatalog();
            await buildIfUnavailable(box, settings.arch, resolveBox(catalog, box, settings.arch).manifest, signal);
            const result = await runInBox({
              boot: { cacheRoot: cacheRoot(), catalog, name: box, ...settings, onNotice: (message) => process.stderr.write(`kiwi: ${message}\n`) },
              spec,
              // The command's output comes back as events: each line to the stream it was written to.
              emit: json ? emit : (event) => (event.type === 'log' && event.stream ? process[event.stream].write(`${event.message}\n`) : plain(event)),
              signal,
            });
            // The runtime's own result event has come through emit already.
            return result.exitCode;
          }
          const spec = resolveRunOptions(options, argv, process.cwd(), onlineCpus(expandCpuList));
          const result = await runContainer(spec, { reporter: new Reporter(emit), signal, output: json ? 'events' : 'inherit' });
          emit(result);
          return result.exitCode;
        } catch (error) {
          if (json && error instanceof KiwiError) {
            emit(errorEvent(error));
          }
          throw error;
        }
      }),
    );
}

function onlineCpus(expandCpuList: (list: string) => number[]): number[] | undefined {
  try {
    return expandCpuList(fs.readFileSync('/sys/devices/system/cpu/online', 'utf8'));
  } catch {
    return undefined;
  }
}
