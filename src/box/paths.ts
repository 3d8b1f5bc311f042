import os from 'node:os';
import path from 'node:path';
import type { Arch } from '../common/arch.js';

/**
 * The on-disk layout of the box cache. Nothing else in kiwi builds these paths.
 *
 *   <root>/                          $KIWI_BOXED_CACHE_DIR, else $XDG_CACHE_HOME/kiwi/boxes
 *     .locks/<name>-<arch>.lock      held while a process changes that box
 *     .partial/<sha256>.part         a download in progress, named by its expected digest
 *     .partial/<sha256>.part.json    where it came from and the server's validator (resume)
 *     <name>/<arch>/
 *       current -> versions/<id>     the version in use; switched by an atomic rename
 *       versions/<id>/               immutable once renamed into place:
 *         box.json                   the manifest, byte for byte as fetched
 *         verified.json              written after every file's sha256 matched
 *         <files of the manifest>
 *         .in-use/<identity>.<n>     one per running VM; such a version is never removed
 *       versions/.staging-<id>-<pid> a version being assembled (never read)
 *     .disks/<name>.<arch>/          the box's build cache disk and its VMs' overlays (vm/build-cache-disk.ts)
 *     .build/                        box recipe stages (box/recipe)
 *     .xz-chunks/                    compressed chunks of the images that boxbuilds leave (builder/outputs/chunked-xz.ts)
 */
export interface CachePaths {
  root: string;
}

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.KIWI_BOXED_CACHE_DIR) return path.resolve(env.KIWI_BOXED_CACHE_DIR);
  const xdg = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache');
  return path.join(path.resolve(xdg), 'kiwi', 'boxes');
}

export const locksDir = (root: string): string => path.join(root, '.locks');
export const lockFile = (root: string, name: string, arch: Arch): string =>
  path.join(locksDir(root), `${name}-${arch}.lock`);

export const partialDir = (root: string): string => path.join(root, '.partial');
export const buildCacheDiskDir = (root: string, name: string, arch: Arch): string => path.join(root, '.disks', `${name}.${arch}`);
export const xzChunksDir = (root: string): string => path.join(root, '.xz-chunks');
export const partialFile = (root: string, sha256: string): string =>
  path.join(partialDir(root), `${sha256}.part`);
export const partialMetaFile = (root: string, sha256: string): string =>
  `${partialFile(root, sha256)}.json`;

export const boxDir = (root: string, name: string, arch: Arch): string =>
  path.join(root, name, arch);
export const currentLink = (root: string, name: string, arch: Arch): string =>
  path.join(boxDir(root, name, arch), 'current');
export const versionsDir = (root: string, name: string, arch: Arch): string =>
  path.join(boxDir(root, name, arch), 'versions');
export const stagingDir = (root: string, name: string, arch: Arch, id: string): string =>
  path.join(versionsDir(root, name, arch), `.staging-${id}-${process.pid}`);

export const MANIFEST_FILE = 'box.json';
export const VERIFIED_FILE = 'verified.json';
