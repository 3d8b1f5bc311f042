import { UsageError } from '../common/errors.js';

/**
 * The in-box runtime's `build` command line: its own options, then kiwi build's BUILD ARGS
 * (which all start with --description and the like, so the two never mix):
 *
 *   build [--keep-failed-root] [--memory-max BYTES] BUILD ARGS
 *
 * The host writes it with boxBuildArgv and the box reads it with parseBoxBuildArgv.
 */
export interface BoxBuildOptions {
  /** Keep a failed build's tree for --box-debug. */
  keepFailedRoot: boolean;
  /** memory.max of the build's container (its share of a packed box), in bytes. */
  memoryMaxBytes: number | undefined;
}

export function boxBuildArgv(options: BoxBuildOptions, buildArgv: string[]): string[] {
  return [
    'build',
    ...(options.keepFailedRoot ? ['--keep-failed-root'] : []),
    ...(options.memoryMaxBytes !== undefined ? ['--memory-max', String(options.memoryMaxBytes)] : []),
    ...buildArgv,
  ];
}

/** The arguments after `build`: the runtime's options and the BUILD ARGS that follow. */
export function parseBoxBuildArgv(argv: string[]): { options: BoxBuildOptions; buildArgv: string[] } {
  const options: BoxBuildOptions = { keepFailedRoot: false, memoryMaxBytes: undefined };
  let index = 0;
  for (; index < argv.length; index += 1) {
    const arg = argv[index];
    if (arg === '--keep-failed-root') {
      options.keepFailedRoot = true;
    } else if (arg === '--memory-max') {
      const value = argv[++index] ?? '';
      if (!/^\d+$/.test(value)) throw new UsageError(`box runtime: --memory-max ${JSON.stringify(value)} is not a number of bytes`);
      options.memoryMaxBytes = Number(value);
    } else {
      break;
    }
  }
  return { options, buildArgv: argv.slice(index) };
}
