import fs from 'node:fs/promises';
import path from 'node:path';
import type { Arch } from '../common/arch.js';
import { isErrno } from '../common/errors.js';
import { readdirOrEmpty } from '../common/read-dir.js';
import { liveUsers } from '../common/in-use.js';
import { manifestSchema, type BoxManifest } from './manifest.js';
import { currentLink, MANIFEST_FILE, VERIFIED_FILE, versionsDir } from './paths.js';

/** A box version as it sits in the cache. */
export interface CachedVersion {
  /** `<version>-<manifest digest>`, the directory name under versions/. */
  id: string;
  dir: string;
  manifest: BoxManifest;
  /** Every file's sha256 matched when it was downloaded and its size still matches. */
  verified: boolean;
  /** Bytes the version's files take on disk. */
  diskBytes: number;
}

/** Reads one version directory; undefined when it is not a complete version. */
export async function readVersion(dir: string): Promise<CachedVersion | undefined> {
  let manifest: BoxManifest;
  try {
    manifest = manifestSchema.parse(JSON.parse(await fs.readFile(path.join(dir, MANIFEST_FILE), 'utf8')));
  } catch {
    return undefined;
  }
  let verified = await exists(path.join(dir, VERIFIED_FILE));
  let diskBytes = 0;
  for (const file of manifest.files) {
    const stat = await fs.stat(path.join(dir, file.path)).catch(() => undefined);
    if (!stat || stat.size !== file.size) verified = false;
    if (stat) diskBytes += stat.blocks * 512;
  }
  return { id: path.basename(dir), dir, manifest, verified, diskBytes };
}

/** The version `current` points to, if any. */
export async function readCurrent(root: string, name: string, arch: Arch): Promise<CachedVersion | undefined> {
  let target: string;
  try {
    target = await fs.readlink(currentLink(root, name, arch));
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
  return readVersion(path.resolve(path.dirname(currentLink(root, name, arch)), target));
}

/** Directory names under versions/, complete or not (staging and trash included). */
export async function versionEntries(root: string, name: string, arch: Arch): Promise<string[]> {
  return readdirOrEmpty(versionsDir(root, name, arch));
}

/**
 * Removes a version unless a live process uses it. It is first renamed aside, so a
 * reader never sees half of it. Returns the bytes freed, or the users that kept it.
 */
export async function removeVersion(dir: string): Promise<{ freed: number } | { usedBy: string[] }> {
  const users = await liveUsers(dir);
  if (users.length > 0) return { usedBy: users };
  const freed = await diskUsage(dir);
  const trash = path.join(path.dirname(dir), `.trash-${path.basename(dir)}-${process.pid}`);
  await fs.rename(dir, trash);
  await fs.rm(trash, { recursive: true, force: true });
  return { freed };
}

/** Bytes a file or tree takes on disk. */
export async function diskUsage(target: string): Promise<number> {
  const stat = await fs.lstat(target).catch(() => undefined);
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.blocks * 512;
  let total = stat.blocks * 512;
  for (const entry of await fs.readdir(target)) total += await diskUsage(path.join(target, entry));
  return total;
}

export async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}
