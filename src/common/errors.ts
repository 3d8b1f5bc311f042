/**
 * kiwi's error taxonomy. Every error a user can meet is a KiwiError carrying the exit
 * code README.md documents (1 build failed, 2 bad usage or input, 3 environment) and a hint
 * saying what to do. The CLI renders them in one place (cli/run-command.ts).
 */
export type ExitCode = 1 | 2 | 3;

export interface KiwiErrorOptions {
  /** What the user can do about it, one sentence. */
  hint?: string;
  cause?: unknown;
}

export class KiwiError extends Error {
  readonly exitCode: ExitCode = 3;
  readonly hint: string | undefined;

  constructor(message: string, options: KiwiErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
  }
}

/** Bad command line or bad user-supplied file: exit 2. */
export class UsageError extends KiwiError {
  override readonly exitCode = 2;
}

/** The host or the network cannot do what was asked: exit 3. */
export class EnvironmentError extends KiwiError {
  override readonly exitCode = 3;
}

/** A build ran and failed: exit 1. */
export class BuildFailedError extends KiwiError {
  override readonly exitCode = 1;
}

/** Maps an ENOSPC anywhere under `dir` to a clear environment error; rethrows others. */
export function rethrowDiskFull(error: unknown, dir: string): never {
  if (isErrno(error, 'ENOSPC') || isErrno(error, 'EDQUOT')) {
    throw new EnvironmentError(`disk full while writing under ${dir}`, {
      hint: 'free some space (kiwi box prune drops unused box versions) or point KIWI_BOXED_CACHE_DIR elsewhere',
      cause: error,
    });
  }
  throw error;
}

/**
 * A file-system permission error (EACCES, EPERM, EROFS on a path) as the usage error it is
 * for the user: a directory they pointed kiwi at (a box cache, a target dir, a share) that
 * this user may not use. Undefined for any other error.
 */
export function asPermissionError(error: unknown): UsageError | undefined {
  const errno = error as NodeJS.ErrnoException;
  if (!(error instanceof Error) || !errno.path || !['EACCES', 'EPERM', 'EROFS'].includes(errno.code ?? '')) return undefined;
  const why = errno.code === 'EROFS' ? 'read-only file system' : `permission denied to this user (uid ${process.getuid?.() ?? '?'})`;
  return new UsageError(`cannot ${errno.syscall ?? 'access'} ${errno.path}: ${why}`, {
    hint: 'run kiwi as a user who may write there, or give it a directory of your own (KIWI_BOXED_CACHE_DIR for the box cache, --target-dir for results)',
    cause: error,
  });
}

export function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}
