import path from 'node:path';
import { UsageError } from '../common/errors.js';
import { parseCpus, parseCpuset, parsePids, parseSize } from './quantities.js';
import type { BindMount, ContainerSpec, ResourceLimits } from './spec.js';

/**
 * The options of `kiwi run` as the user typed them (strings), turned into a ContainerSpec.
 * Pure apart from resolving relative paths against `cwd`; every problem is a UsageError.
 */
export interface RawRunOptions {
  root?: string;
  image?: string;
  memory?: string;
  swap?: string;
  cpus?: string;
  pids?: string;
  cpuset?: string;
  network?: string;
  hostname?: string;
  bind?: string[];
  commit?: string;
  workdir?: string;
}

export function resolveRunOptions(raw: RawRunOptions, argv: string[], cwd: string, onlineCpus?: number[]): ContainerSpec {
  if ((raw.root === undefined) === (raw.image === undefined)) {
    throw new UsageError('give exactly one of --root DIR or --image FILE.tar.xz', {
      hint: 'kiwi run --root ./rootfs -- /bin/sh -c "echo hello"',
    });
  }
  if (argv.length === 0 || argv[0] === '') {
    throw new UsageError('no command to run', { hint: 'put the command after --, e.g. kiwi run --root DIR -- /bin/sh' });
  }
  const network = raw.network ?? 'box';
  if (network !== 'box' && network !== 'none') {
    throw new UsageError(`--network ${network}: not box or none`, { hint: 'box shares this machine\'s network; none has only loopback' });
  }
  const hostname = raw.hostname ?? 'kiwi';
  // RFC 1123 labels; the kernel takes up to 64 bytes but resolvers and shells expect these.
  if (!/^[a-zA-Z0-9]([a-zA-Z0-9-]{0,62})(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,62}))*$/.test(hostname) || hostname.length > 64) {
    throw new UsageError(`--hostname ${hostname}: not a valid host name`);
  }
  const workdir = raw.workdir ?? '/';
  if (!workdir.startsWith('/')) throw new UsageError(`--workdir ${workdir}: must be an absolute path inside the container`);
  const root = raw.root !== undefined
    ? { kind: 'dir' as const, path: checkOverlayPath(path.resolve(cwd, raw.root), '--root') }
    : { kind: 'image' as const, path: path.resolve(cwd, raw.image!) };
  if (root.kind === 'image' && !/\.tar(\.xz)?$|\.txz$/.test(root.path)) {
    throw new UsageError(`--image ${raw.image}: expected a .tar.xz root tarball`);
  }
  return {
    root,
    argv,
    limits: resolveLimits(raw, onlineCpus),
    network,
    hostname,
    binds: (raw.bind ?? []).map((text) => parseBind(text, cwd)),
    ...(raw.commit !== undefined ? { commitDir: path.resolve(cwd, raw.commit) } : {}),
    workdir,
  };
}

function resolveLimits(raw: RawRunOptions, onlineCpus?: number[]): ResourceLimits {
  const limits: ResourceLimits = {};
  if (raw.memory !== undefined) limits.memoryBytes = parseSize(raw.memory, '--memory');
  if (limits.memoryBytes !== undefined && limits.memoryBytes < 4 * 1024 * 1024) {
    // Below a few MiB the runtime's own setup (bwrap, the shell) is OOM-killed before the command starts.
    throw new UsageError(`--memory ${raw.memory}: below the 4M a container needs to start`);
  }
  if (raw.swap !== undefined) limits.swapBytes = parseSize(raw.swap, '--swap');
  if (raw.cpus !== undefined) limits.cpu = parseCpus(raw.cpus);
  if (raw.pids !== undefined) limits.pids = parsePids(raw.pids);
  if (raw.cpuset !== undefined) limits.cpuset = parseCpuset(raw.cpuset, onlineCpus);
  return limits;
}

/** "SRC:DST[:ro|:rw]" → a bind mount; SRC relative to cwd, DST absolute. */
export function parseBind(text: string, cwd: string): BindMount {
  const parts = text.split(':');
  let readOnly = false;
  if (parts.length === 3 && (parts[2] === 'ro' || parts[2] === 'rw')) {
    readOnly = parts.pop() === 'ro';
  }
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new UsageError(`--bind ${text}: expected SRC:DST or SRC:DST:ro`);
  }
  const target = path.posix.normalize(parts[1]);
  if (!target.startsWith('/') || target === '/') {
    throw new UsageError(`--bind ${text}: the target must be an absolute path other than /`);
  }
  return { source: path.resolve(cwd, parts[0]), target, readOnly };
}

/**
 * overlayfs takes its layers as a comma- and colon-separated option string; a path with
 * those characters would be split, so it is refused rather than silently misread.
 */
export function checkOverlayPath(dir: string, option: string): string {
  if (/[,:\n]/.test(dir)) {
    throw new UsageError(`${option} ${dir}: overlayfs cannot use a path containing ',' or ':'`, {
      hint: 'move or symlink the directory to a plain path',
    });
  }
  return dir;
}
