import { execa } from 'execa';
import { BuildFailedError, EnvironmentError } from '../common/errors.js';
import type { Reporter } from './reporter.js';
import { shellQuote } from '../common/shell-quote.js';

/**
 * The one place the runtime runs helper programs (tar, unshare, cp...): minimal
 * environment, stdin closed, the command printed for --debug, failures turned into kiwi
 * errors that name the program, its exit and the tail of its stderr.
 */

/** Debian package for each program the runtime needs, for the hint when one is missing. */
export const TOOL_PACKAGES: Record<string, string> = {
  bwrap: 'bubblewrap',
  unshare: 'util-linux',
  mount: 'mount',
  tar: 'tar',
  xz: 'xz-utils',
  cp: 'coreutils',
  sh: 'dash',
};

/** PATH for helper programs: the system directories, in case kiwi runs with a narrow PATH. */
export const TOOL_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface ToolOptions {
  reporter: Reporter;
  step: string;
  signal?: AbortSignal;
}

export async function runTool(argv: string[], options: ToolOptions): Promise<string> {
  options.reporter.debug(`run ${shellQuote(argv)}`, options.step);
  const result = await execa(argv[0]!, argv.slice(1), {
    stdin: 'ignore',
    reject: false,
    extendEnv: false,
    env: { PATH: TOOL_PATH, LC_ALL: 'C' },
    ...(options.signal ? { cancelSignal: options.signal } : {}),
    killSignal: 'SIGKILL',
  });
  if (result.failed) {
    if ((result.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') throw missingTool(argv[0]!, result.cause);
    if (options.signal?.aborted) throw options.signal.reason;
    const tail = String(result.stderr).trim().split('\n').slice(-5).join('\n');
    throw new BuildFailedError(`${argv[0]} failed (${result.signal ?? `exit ${result.exitCode}`}) in step ${options.step}${tail ? `:\n${tail}` : ''}`, {
      hint: 'run with --debug to see the exact command',
    });
  }
  return String(result.stdout);
}

export function missingTool(program: string, cause?: unknown): EnvironmentError {
  const pkg = TOOL_PACKAGES[program];
  return new EnvironmentError(`${program} is not installed`, {
    hint: pkg ? `install the ${pkg} package (apt-get install ${pkg})` : `install ${program}`,
    cause,
  });
}
