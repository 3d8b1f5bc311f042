import path from 'node:path';
import { UsageError } from '../../common/errors.js';

/** How a host directory reaches the box. */
export type ShareBackend = '9p' | 'virtiofs' | 'sshfs';

export const SHARE_BACKENDS: readonly ShareBackend[] = ['9p', 'virtiofs', 'sshfs'];

/** One host directory shared into the box, as the user asked for it. */
export interface Share {
  /** Absolute host directory; it exists when the share is made. */
  hostDir: string;
  /** Absolute directory inside the box; created there before mounting. */
  guestDir: string;
  /** Refuse writes: enforced on the host side (fsdev readonly, ro bind) and in the guest mount. */
  readOnly: boolean;
}

/** A share with the name both sides know it by (9p mount_tag, virtiofs tag, sftp jail). */
export interface TaggedShare extends Share {
  /** kiwi0, kiwi1, ...: unique within one VM; QEMU limits mount tags to 31 bytes. */
  tag: string;
}

export function tagShares(shares: Share[]): TaggedShare[] {
  return shares.map((share, index) => ({ ...share, tag: `kiwi${index}` }));
}

/**
 * Parses HOSTDIR:GUESTDIR[:ro] (HOSTDIR relative to `cwd`). A colon inside a path is not
 * supported: it is the separator, as in docker's and KIWI's volume syntax.
 */
export function parseShareArg(text: string, cwd: string = process.cwd()): Share {
  const parts = text.split(':');
  const readOnly = parts.length === 3 && parts[2] === 'ro';
  if (parts.length === 3 && !readOnly && parts[2] !== 'rw') {
    throw new UsageError(`--share ${text}: unknown mode "${parts[2]}"`, { hint: 'use HOSTDIR:GUESTDIR, HOSTDIR:GUESTDIR:ro or HOSTDIR:GUESTDIR:rw' });
  }
  const [hostDir, guestDir] = parts;
  if (parts.length < 2 || parts.length > 3 || !hostDir || !guestDir) {
    throw new UsageError(`--share ${text}: expected HOSTDIR:GUESTDIR[:ro]`);
  }
  if (!path.posix.isAbsolute(guestDir)) throw new UsageError(`--share ${text}: the box directory ${guestDir} must be absolute`);
  const guest = path.posix.normalize(guestDir);
  if (guest === '/') throw new UsageError(`--share ${text}: cannot mount over the box's root directory`);
  return { hostDir: path.resolve(cwd, hostDir), guestDir: guest.replace(/\/$/, ''), readOnly };
}
