import { execa, ExecaError, type Options } from 'execa';
import { EnvironmentError } from '../../common/errors.js';
import { forwardLines } from '../../common/lines.js';

/** The Debian package that provides each tool a box build runs, for "not found" hints. */
const PACKAGE_OF: Record<string, string> = {
  mmdebstrap: 'mmdebstrap',
  tar: 'tar',
  xz: 'xz-utils',
  gzip: 'gzip',
  bzip2: 'bzip2',
  lzma: 'xz-utils',
  lzop: 'lzop',
  lz4: 'lz4',
  zstd: 'zstd',
  'mkfs.ext4': 'e2fsprogs',
  'qemu-img': 'qemu-utils',
  chroot: 'coreutils',
  depmod: 'kmod',
};

/** A tool a box build ran failed; carries the command and the tail of its output. */
export class BoxBuildError extends EnvironmentError {}

export interface RunToolOptions {
  signal?: AbortSignal;
  /** Bytes fed to stdin. */
  input?: Buffer;
  /** Each line of stderr (and stdout when not captured), for progress display. */
  onLine?: (line: string) => void;
  /** Return stdout as a Buffer instead of text (decompressors). */
  binary?: boolean;
  cwd?: string;
  /** Variables added to the tool's environment. */
  env?: Record<string, string>;
  /**
   * Run it in a process group of its own and, when `signal` aborts, stop the whole group.
   * mmdebstrap answers SIGTERM by waiting for its apt and dpkg to finish, which for a
   * foreign arch under qemu-user takes minutes; killed alone, it leaves them running in its
   * chroot with /proc, /sys and /dev mounted and its temp dir behind.
   */
  processGroup?: boolean;
}

/** How long a signalled process group may take to clean up (mmdebstrap unmounts and removes its temp dir) before SIGKILL. */
const GROUP_KILL_GRACE_MS = 30_000;

/**
 * Runs one build tool: stdin ignored unless `input` is given, a minimal locale, and every
 * failure turned into a BoxBuildError saying which tool, why, and (when it is missing)
 * which Debian package to install.
 */
export async function runTool(file: string, args: string[], options: RunToolOptions = {}): Promise<{ stdout: string | Buffer }> {
  const execaOptions: Options = {
    stdin: options.input ? 'pipe' : 'ignore',
    ...(options.input ? { input: options.input } : {}),
    encoding: options.binary ? 'buffer' : 'utf8',
    maxBuffer: 1024 * 1024 * 1024,
    // LC_ALL=C: tool messages in the error tail are the ones their documentation shows.
    env: { ...options.env, LC_ALL: 'C', LANG: 'C' },
    ...(options.cwd ? { cwd: options.cwd } : {}),
    ...(options.signal && !options.processGroup ? { cancelSignal: options.signal } : {}),
    ...(options.processGroup ? { detached: true } : {}),
    forceKillAfterDelay: 5_000,
    lines: false,
  };
  let stopGroup: (() => void) | undefined;
  try {
    const child = execa(file, args, execaOptions);
    if (options.processGroup && options.signal) stopGroup = stopGroupOnAbort(child.pid, options.signal);
    const { onLine } = options;
    if (onLine) forwardLines(child.stderr, (line) => line.trim() && onLine(line), 'cr');
    const result = await child;
    // execa's "buffer" encoding yields a Uint8Array; callers want Buffer's methods.
    const stdout = result.stdout instanceof Uint8Array ? Buffer.from(result.stdout.buffer, result.stdout.byteOffset, result.stdout.byteLength) : String(result.stdout);
    return { stdout };
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    throw toolError(file, args, error);
  } finally {
    stopGroup?.();
  }
}

/** SIGTERM to the group `pid` leads when `signal` aborts, SIGKILL after the grace period; returns the listener's removal. */
function stopGroupOnAbort(pid: number | undefined, signal: AbortSignal): () => void {
  let killTimer: NodeJS.Timeout | undefined;
  const signalGroup = (name: NodeJS.Signals): void => {
    try {
      if (pid) process.kill(-pid, name);
    } catch {
      // The group is already gone: nothing left to stop.
    }
  };
  const onAbort = (): void => {
    signalGroup('SIGTERM');
    killTimer = setTimeout(() => signalGroup('SIGKILL'), GROUP_KILL_GRACE_MS);
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  return () => {
    signal.removeEventListener('abort', onAbort);
    clearTimeout(killTimer);
  };
}


function toolError(file: string, args: string[], error: unknown): BoxBuildError {
  const tool = file.split('/').pop() ?? file;
  if (!(error instanceof ExecaError)) return new BoxBuildError(`${tool} failed: ${String(error)}`, { cause: error });
  if (error.code === 'ENOENT') {
    const pkg = PACKAGE_OF[tool];
    return new BoxBuildError(`${tool} is not installed`, {
      hint: pkg ? `install the Debian package ${pkg} (apt-get install ${pkg})` : `install ${tool}`,
      cause: error,
    });
  }
  const raw: unknown = error.stderr;
  const stderr = raw instanceof Uint8Array ? Buffer.from(raw).toString('utf8') : typeof raw === 'string' ? raw : '';
  const tail = stderr.trim().split('\n').slice(-12).join('\n');
  const why = error.signal ? `killed by ${error.signal}` : `exit code ${error.exitCode ?? '?'}`;
  const command = [tool, ...args].join(' ');
  return new BoxBuildError(`${tool} failed (${why}): ${command.length > 300 ? `${command.slice(0, 300)}…` : command}${tail ? `\n${tail}` : ''}`, {
    hint: 'the lines above are the end of its output; run with --debug for the whole error',
    cause: error,
  });
}
