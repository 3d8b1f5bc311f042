import { hostArch } from '../common/arch.js';
import { BuildFailedError, KiwiError, UsageError } from '../common/errors.js';
import { encodeBuildEvent, encodeEvent, errorEvent, type RuntimeEvent } from '../protocol/events.js';
import { parseBuildArgs, toLoadOptions } from '../builder/build-args.js';
import { buildImage } from '../builder/build.js';
import { loadImageModel } from '../builder/description/load.js';
import { buildCacheRoot } from '../builder/paths.js';
import { parseBoxBuildsArgv, type BoxBuildRequest } from './box-build-command.js';
import { runContainer } from './container.js';
import { Reporter } from './reporter.js';
import { parseContainerSpec } from './spec-json.js';

/**
 * The in-box runtime: the one file the host bundles and uploads into a box at each build
 * (dist/box-runtime.mjs), run there as root by the box's Node:
 *
 *   box-runtime.mjs builds JSON          one or more image builds at once (a pack), each
 *                                        image left uncompressed for the host (xz under
 *                                        emulation is the slow part); JSON and each build's
 *                                        options in box-build-command.ts
 *   box-runtime.mjs run SPEC_JSON        one container (kiwi run --box)
 *
 * It speaks only the event protocol: one JSON object per line on stdout. `run` ends with the
 * `result` event or an `error` event; `builds` tags each event with its build's index and
 * ends each build with its `build` or `error` event, a failing build leaving the others be.
 * SIGINT, SIGTERM and SIGHUP (the SSH channel closing) stop the work and clean up like
 * Ctrl-C does natively.
 */
async function main(argv: string[]): Promise<number> {
  const controller = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => controller.abort(new BuildFailedError(`stopped by ${signal}`)));
  }
  const emit = (event: RuntimeEvent): void => {
    process.stdout.write(encodeEvent(event));
  };
  const [command, ...rest] = argv;
  try {
    if (command === 'builds' && rest.length === 1) {
      const builds = parseBoxBuildsArgv(rest[0]!);
      const exitCodes = await Promise.all(
        builds.map((build, index) => {
          const emitOfBuild = (event: RuntimeEvent): void => void process.stdout.write(encodeBuildEvent(index, event));
          return runBuild(build, emitOfBuild, controller.signal).catch((error: unknown) => reportFailure(error, controller.signal, emitOfBuild));
        }),
      );
      return exitCodes.find((code) => code !== 0) ?? 0;
    }
    if (command === 'run' && rest.length === 1) {
      const result = await runContainer(parseContainerSpec(rest[0]!), { reporter: new Reporter(emit), signal: controller.signal, output: 'events' });
      emit(result);
      return result.exitCode;
    }
    throw new UsageError(`box runtime: unknown command ${JSON.stringify(argv.slice(0, 2))}`, { hint: 'builds JSON | run SPEC_JSON' });
  } catch (error) {
    return reportFailure(error, controller.signal, emit);
  }
}

/** One image build of `builds`; its events, the last its `build` event, go to `emit`. */
async function runBuild({ options, buildArgv }: BoxBuildRequest, emit: (event: RuntimeEvent) => void, signal: AbortSignal): Promise<number> {
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
    signal,
  });
  emit(result);
  return 0;
}

/** A failure as the last event (the interrupt's, if there was one); returns the exit code for it. */
function reportFailure(error: unknown, signal: AbortSignal, emit: (event: RuntimeEvent) => void): number {
  const failure = signal.aborted ? signal.reason : error;
  if (failure instanceof KiwiError) {
    emit(errorEvent(failure));
    return failure.exitCode;
  }
  // Not a kiwi error: a defect. The stack goes to stderr, which the host keeps in its log.
  process.stderr.write(`${failure instanceof Error ? (failure.stack ?? failure.message) : String(failure)}\n`);
  emit({ type: 'error', message: `internal error in the box runtime: ${failure instanceof Error ? failure.message : String(failure)}`, exitCode: 1 });
  return 1;
}

process.exitCode = await main(process.argv.slice(2));
