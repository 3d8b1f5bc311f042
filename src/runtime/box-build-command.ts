import { UsageError } from '../common/errors.js';

/**
 * The in-box runtime's `builds` command: one or more image builds at once in one runtime
 * process (a box's Node starts once per box, not once per build; under emulation each start
 * costs a second or more of both vCPUs). Its one argument is a JSON array with one argv per
 * build: the runtime's options for that build, then kiwi build's BUILD ARGS (which all start
 * with --description and the like, so the two never mix):
 *
 *   builds '[["--memory-max", "1073741824", "--description", "/d", "--target-dir", "/t"], ...]'
 *   per build: [--keep-failed-root] [--memory-max BYTES] BUILD ARGS
 *
 * The host writes it with boxBuildsArgv and the box reads it with parseBoxBuildsArgv.
 */
export interface BoxBuildOptions {
  /** Keep a failed build's tree for --box-debug. */
  keepFailedRoot: boolean;
  /** memory.max of the build's container (its share of a packed box), in bytes. */
  memoryMaxBytes: number | undefined;
}

/** One build of the command: its runtime options and its BUILD ARGS. */
export interface BoxBuildRequest {
  options: BoxBuildOptions;
  buildArgv: string[];
}

export function boxBuildsArgv(builds: BoxBuildRequest[]): string[] {
  const argvs = builds.map(({ options, buildArgv }) => [
    ...(options.keepFailedRoot ? ['--keep-failed-root'] : []),
    ...(options.memoryMaxBytes !== undefined ? ['--memory-max', String(options.memoryMaxBytes)] : []),
    ...buildArgv,
  ]);
  return ['builds', JSON.stringify(argvs)];
}

/** The argument after `builds`: each build's options and the BUILD ARGS that follow them. */
export function parseBoxBuildsArgv(json: string): BoxBuildRequest[] {
  let argvs: unknown;
  try {
    argvs = JSON.parse(json);
  } catch {
    argvs = undefined;
  }
  if (!Array.isArray(argvs) || argvs.length === 0 || !argvs.every((argv) => Array.isArray(argv) && argv.every((arg) => typeof arg === 'string'))) {
    throw new UsageError('box runtime: builds takes a JSON array of argument arrays, one per build');
  }
  return (argvs as string[][]).map(parseBuildArgv);
}

function parseBuildArgv(argv: string[]): BoxBuildRequest {
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
