import path from 'node:path';
import { UsageError } from '../common/errors.js';
import type { ContainerSpec } from '../runtime/spec.js';
import type { Share } from '../vm/shares/share-types.js';

/**
 * Box directories a share may not be mounted over: the box's own system and kiwi's
 * runtime directories. Anything else is mounted at the same path as on the host, so the
 * build arguments, the log and kiwi.result.json name the same paths inside and outside.
 */
const BOX_SYSTEM_DIRS = ['/bin', '/boot', '/dev', '/etc', '/lib', '/lib64', '/opt/kiwi', '/proc', '/root/.ssh', '/run', '/sbin', '/sys', '/usr', '/var/cache/kiwi', '/var/lib', '/var/cache/apt'];
/** The box's temporary directories themselves (the build's tools use them); directories inside them are fine. */
const BOX_TEMP_DIRS = ['/tmp', '/var/tmp'];

/** A host directory the box needs, at the same path. */
export interface PathShare {
  dir: string;
  readOnly: boolean;
}

export interface BuildShareInput {
  /** --description, absolute: shared read-only. */
  descriptionDir: string;
  /** --target-dir, absolute: shared read-write. */
  targetDir: string;
  /** --shared-path directories, absolute: read-write (local repositories, files the description refers to). */
  sharedPaths: string[];
  /** Local repositories of the description (dir://, file://), absolute: read-only. */
  repositoryPaths: string[];
}

/**
 * The shares of a boxbuild, or of the builds packed into one box: each description and its
 * local repositories read-only (those inside the description, this://, come with it), each
 * target dir and --shared-path writable.
 */
export function boxBuildShares(...inputs: BuildShareInput[]): Share[] {
  const inside = (dir: string, parent: string) => dir === parent || dir.startsWith(`${parent}/`);
  return samePathShares(
    inputs.flatMap((input) => [
      { dir: input.descriptionDir, readOnly: true },
      ...input.repositoryPaths.filter((dir) => !inside(dir, input.descriptionDir)).map((dir) => ({ dir, readOnly: true })),
      { dir: input.targetDir, readOnly: false },
      ...input.sharedPaths.map((dir) => ({ dir, readOnly: false })),
    ]),
  );
}

/**
 * The shares of one `kiwi run --box`: the root tree (or the image's directory) read-only,
 * each bind's directory (a file's parent) as the bind asks, the parent of --commit writable.
 */
export function containerShares(spec: ContainerSpec, isDirectory: (file: string) => boolean): Share[] {
  return samePathShares([
    ...(spec.root.kind === 'layers' ? spec.root.paths : [spec.root.kind === 'dir' ? spec.root.path : path.dirname(spec.root.path)]).map((dir) => ({ dir, readOnly: true })),
    ...spec.binds.map((bind) => ({ dir: isDirectory(bind.source) ? bind.source : path.dirname(bind.source), readOnly: bind.readOnly })),
    ...(spec.commitDir ? [{ dir: path.dirname(spec.commitDir), readOnly: false }] : []),
  ]);
}

/** Each directory shared at its host path, once (writable if any use writes), parents before the directories inside them. */
export function samePathShares(wanted: PathShare[]): Share[] {
  const shares: Share[] = [];
  for (const share of wanted) {
    const dir = path.resolve(share.dir);
    if (dir === '/' || BOX_TEMP_DIRS.includes(dir)) throw new UsageError(`${dir} itself cannot be shared into a box`, { hint: 'name a directory below it' });
    const system = BOX_SYSTEM_DIRS.find((system) => dir === system || dir.startsWith(`${system}/`) || system.startsWith(`${dir}/`));
    if (system) {
      throw new UsageError(`${dir} cannot be shared into the box at the same path: it ${system.startsWith(`${dir}/`) ? 'contains' : 'is inside'} the box's ${system}`, {
        hint: 'use a description and target directory elsewhere, e.g. under your home directory or /var/tmp',
      });
    }
    const same = shares.find((other) => other.hostDir === dir);
    if (same) same.readOnly &&= share.readOnly;
    else shares.push({ hostDir: dir, guestDir: dir, readOnly: share.readOnly });
  }
  return shares.sort((a, b) => a.guestDir.split('/').length - b.guestDir.split('/').length);
}
