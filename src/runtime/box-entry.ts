import { hostArch } from '../common/arch.js';
import { BuildFailedError, KiwiError, UsageError } from '../common/errors.js';
import { encodeEvent, errorEvent, type RuntimeEvent } from '../protocol/events.js';
import { parseBuildArgs, toLoadOptions } from '../builder/build-args.js';
import { buildImage } from '../builder/build.js';
import { loadImageModel } from '../builder/description/load.js';
import { buildCacheRoot } from '../builder/paths.js';
import { parseBoxBuildArgv } from './box-build-command.js';
import { runContainer } from './container.js';
import { Reporter } from './reporter.js';
import { parseContainerSpec } from './spec-json.js';

/**
 * The in-box runtime: the one file the host bundles and uploads into a box at each build
 * (dist/box-runtime.mjs), run there as root by the box's Node:
 *
 *   box-runtime.mjs build [OPTIONS] BUILD ARGS
 *                                        an image build, the image left uncompressed for
 *                                        the host (xz under emulation is the slow part);
 *                                        options in box-build-command.ts
 *   box-runtime.mjs run SPEC_JSON        one container (kiwi run --box)
 *
 * It speaks only the event protocol: one JSON object per line on stdout, the last one the
 * `build` or `result` event, or an `error` event. SIGINT, SIGTERM and SIGHUP (the SSH
 * channel closing) stop the work and clean up like Ctrl-C does natively.
 */
const emit = (event: RuntimeEvent): void => {
  process.stdout.write(encodeEvent(event));
};

async function main(argv: string[]): Promise<number> {
  const controller = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => controller.abort(new BuildFailedError(`stopped by ${signal}`)));
  }
  const [command, ...rest] = argv;
  try {
    if (command === 'build') {
      const { options, buildArgv } = parseBoxBuildArgv(rest);
      const args = parseBuildArgs(buildArgv, { cwd: process.cwd(), hostArch: hostArch() });
      const model = loadImageModel(toLoadOptions(args));
      const result = await buildImage({
        model,
        targetDir: args.targetDir,
        cacheRoot: buildCacheRoot(),
        emit,
        compression: 'deferred',
        keepFailedRoot: options.keepFailedRoot,
        ...(options.memoryMaxBytes !== undefined ? { limits: { memoryBytes: options.memoryMaxBytes } } : {}),
        signal: controller.signal,
      });
      emit(result);
      return 0;
    }
    if (command === 'run' && rest.length === 1) {
      const result = await runContainer(parseContainerSpec(rest[0]!), { reporter: new Reporter(emit), signal: controller.signal, output: 'events' });
      emit(result);
      return result.exitCode;
    }
    throw new UsageError(`box runtime: unknown command ${JSON.stringify(argv.slice(0, 2))}`, { hint: 'build BUILD ARGS | run SPEC_JSON' });
  } catch (error) {
    const failure = controller.signal.aborted ? controller.signal.reason : error;
    if (failure instanceof KiwiError) {
      emit(errorEvent(failure));
      return failure.exitCode;
    }
    // Not a kiwi error: a defect. The stack goes to stderr, which the host keeps in its log.
    process.stderr.write(`${failure instanceof Error ? (failure.stack ?? failure.message) : String(failure)}\n`);
    emit({ type: 'error', message: `internal error in the box runtime: ${failure instanceof Error ? failure.message : String(failure)}`, exitCode: 1 });
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
