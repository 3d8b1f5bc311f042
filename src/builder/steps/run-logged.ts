import { execa } from 'execa';
import { EnvironmentError } from '../../common/errors.js';
import { forwardLines } from '../../common/lines.js';
import { shellQuote } from '../../common/shell-quote.js';
import type { BuildLog } from '../build-log.js';
import { BuildStepError } from '../build-error.js';

/** Debian package of each program the build runs, for the hint when one is missing. */
const PACKAGES: Record<string, string> = {
  mmdebstrap: 'mmdebstrap',
  unshare: 'util-linux',
  tar: 'tar',
  xz: 'xz-utils',
  'dpkg-query': 'dpkg',
  sh: 'dash',
};

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface RunLoggedOptions {
  log: BuildLog;
  step: string;
  signal?: AbortSignal;
  /** Keep stdout instead of logging it (e.g. dpkg-query's output). */
  captureStdout?: boolean;
}

/**
 * Runs a helper program of the build on this machine (mmdebstrap, tar, xz): its output
 * goes to the build log line by line; a failure is a BuildStepError with the tail. On
 * cancel it gets SIGTERM (mmdebstrap cleans up on it), SIGKILL 10 s later.
 */
export async function runLogged(argv: string[], options: RunLoggedOptions): Promise<string> {
  const { log, step } = options;
  log.emit({ type: 'log', level: 'debug', message: `run ${shellQuote(argv)}`, step });
  const child = execa(argv[0]!, argv.slice(1), {
    stdin: 'ignore',
    reject: false,
    buffer: { stdout: Boolean(options.captureStdout), stderr: false },
    extendEnv: false,
    env: { PATH, LC_ALL: 'C.UTF-8', HOME: '/root' },
    ...(options.signal ? { cancelSignal: options.signal } : {}),
    killSignal: 'SIGTERM',
    forceKillAfterDelay: 10_000,
  });
  if (!options.captureStdout) forwardLines(child.stdout, (line) => log.output(line, step), 'crlf');
  forwardLines(child.stderr, (line) => log.output(line, step), 'crlf');
  const result = await child;
  if ((result.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    const pkg = PACKAGES[argv[0]!] ?? argv[0]!;
    throw new EnvironmentError(`${argv[0]} is not installed`, { hint: `install the ${pkg} package (apt-get install ${pkg})`, cause: result.cause });
  }
  if (options.signal?.aborted) throw options.signal.reason;
  if (result.failed) {
    const code = result.exitCode ?? 128 + (result.signal === 'SIGKILL' ? 9 : 15);
    throw new BuildStepError(step, code, log.lastLines(), log.file);
  }
  return options.captureStdout ? String(result.stdout) : '';
}


