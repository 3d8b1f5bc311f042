import fs from 'node:fs/promises';
import path from 'node:path';
import type { Arch } from '../common/arch.js';
import { EnvironmentError, rethrowDiskFull } from '../common/errors.js';
import { markInUse } from '../common/in-use.js';
import { acquireLock } from '../common/lock.js';
import { formatBytes } from '../common/units.js';
import { resolveBox, type Catalog } from './catalog.js';
import type { DownloadPolicy } from './download.js';
import type { FetchEventHandler } from './fetch-events.js';
import { parseManifest, type BoxFile, type ParsedManifest } from './manifest.js';
import * as paths from './paths.js';
import { readCurrent, readVersion, removeVersion, versionEntries, type CachedVersion } from './store.js';

export interface EnsureBoxOptions {
  root: string;
  catalog: Catalog;
  name: string;
  /** Fetch from this manifest instead of the catalog's (a box just built locally, as file://). */
  manifestUrl?: string;
  arch: Arch;
  /** Re-read the manifest and fetch what changed; false uses a cached box with no network. */
  updateCheck: boolean;
  /** Also mark the version in use (for a VM) before the lock is released, so no update removes it. */
  use?: boolean;
  onEvent?: FetchEventHandler;
  policy?: Partial<DownloadPolicy>;
  signal?: AbortSignal;
}

export interface EnsuredBox {
  version: CachedVersion;
  /** downloaded: new to the cache; updated: replaced an older version; cached: nothing fetched. */
  status: 'downloaded' | 'updated' | 'cached';
  /** Present when `use` was asked: releases the in-use mark. */
  inUse?: { release(): Promise<void> };
}

/** Makes sure a verified copy of the box is in the cache and returns it. */
export async function ensureBox(options: EnsureBoxOptions): Promise<EnsuredBox> {
  const { root, name, arch } = options;
  const manifestUrl = options.manifestUrl ?? resolveBox(options.catalog, name, arch).manifest;
  const emit = options.onEvent ?? (() => {});

  const offline = !options.updateCheck || !manifestUrl;
  const cached = await readCurrent(root, name, arch);
  // Without `use` nothing can go wrong between reading and returning: skip the lock.
  if (offline && cached?.verified && !options.use) return { version: cached, status: 'cached' };
  if (offline && !cached?.verified) throw notCachedError(name, arch, manifestUrl);

  const lock = await acquireLock(paths.lockFile(root, name, arch), {
    onWait: (holder) => emit({ type: 'status', message: `waiting for process ${holder.split('-')[0]}, which is fetching ${name}` }),
    signal: options.signal,
  });
  try {
    if (offline || !manifestUrl) {
      const current = await readCurrent(root, name, arch);
      if (!current?.verified) throw notCachedError(name, arch, manifestUrl);
      return await finish(options, current, 'cached');
    }
    let parsed: ParsedManifest;
    try {
      // got and the downloader load only when the network is used (60 ms of every boot of a cached box).
      const { readUrl } = await import('./read-url.js');
      parsed = parseManifest(await readUrl(manifestUrl, { signal: options.signal }), manifestUrl);
    } catch (error) {
      const current = await readCurrent(root, name, arch);
      if (!current?.verified) throw error;
      emit({ type: 'status', message: `update check failed (${(error as Error).message}); using the cached ${current.id}` });
      return await finish(options, current, 'cached');
    }
    checkManifestMatches(parsed, name, arch, manifestUrl);

    const current = await readCurrent(root, name, arch);
    if (current?.verified && current.id === parsed.id) return await finish(options, current, 'cached');

    const versionDir = path.join(paths.versionsDir(root, name, arch), parsed.id);
    let version = await readVersion(versionDir);
    if (!version?.verified) {
      emit({ type: 'status', message: `fetching ${name} ${parsed.manifest.version} (${arch})` });
      version = await assembleVersion(options, parsed, manifestUrl, versionDir);
    }
    await switchCurrent(root, name, arch, parsed.id);
    const result = await finish(options, version, current ? 'updated' : 'downloaded');
    await removeOldVersions(options, parsed.id);
    return result;
  } finally {
    await lock.release();
  }
}

function notCachedError(name: string, arch: Arch, manifestUrl: string | undefined): EnvironmentError {
  if (!manifestUrl) {
    return new EnvironmentError(`box "${name}" (${arch}) is not in the cache and no manifest URL is published for it`, {
      hint: `build it with kiwi box build ${name} (boxes with a recipe), or give it a manifest URL in kiwi-boxes.yaml (README.md, "Box catalog")`,
    });
  }
  return new EnvironmentError(`box "${name}" (${arch}) is not in the cache`, {
    hint: 'run without --no-update-check to download it',
  });
}

async function finish(options: EnsureBoxOptions, version: CachedVersion, status: EnsuredBox['status']): Promise<EnsuredBox> {
  if (!options.use) return { version, status };
  return { version, status, inUse: await markInUse(version.dir) };
}

function checkManifestMatches(parsed: ParsedManifest, name: string, arch: Arch, url: string): void {
  const { manifest } = parsed;
  if (manifest.name !== name || manifest.arch !== arch) {
    throw new EnvironmentError(
      `bad box manifest ${url}: it describes ${manifest.name} (${manifest.arch}), not ${name} (${arch})`,
      { hint: 'the catalog entry points at the wrong box.json' },
    );
  }
}

/** Downloads (or reuses) every file into a staging directory, then renames it into place. */
async function assembleVersion(
  options: EnsureBoxOptions,
  parsed: ParsedManifest,
  manifestUrl: string,
  versionDir: string,
): Promise<CachedVersion> {
  const { root, name, arch } = options;
  const staging = paths.stagingDir(root, name, arch, parsed.id);
  await fs.rm(staging, { recursive: true, force: true });
  try {
    await fs.mkdir(staging, { recursive: true });
    await fs.mkdir(paths.partialDir(root), { recursive: true });
    await checkFreeSpace(root, parsed.manifest.files);
    for (const file of parsed.manifest.files) {
      const target = path.join(staging, file.path);
      await fs.mkdir(path.dirname(target), { recursive: true });
      if (!(await reuseFile(options, file, target))) {
        await downloadFile(options, file, new URL(file.path, manifestUrl).href, target);
      }
    }
    await fs.writeFile(path.join(staging, paths.MANIFEST_FILE), parsed.text);
    const verified = { verifiedAt: new Date().toISOString(), sha256: Object.fromEntries(parsed.manifest.files.map((f) => [f.path, f.sha256])) };
    await fs.writeFile(path.join(staging, paths.VERIFIED_FILE), `${JSON.stringify(verified, null, 2)}\n`);
    await fs.rm(versionDir, { recursive: true, force: true });
    await fs.rename(staging, versionDir);
  } catch (error) {
    await fs.rm(staging, { recursive: true, force: true });
    rethrowDiskFull(error, root);
  }
  const version = await readVersion(versionDir);
  if (!version?.verified) throw new Error(`internal: ${versionDir} not complete after assembly`);
  return version;
}

/** A file with the same digest in another verified version of this box is hard-linked, not downloaded. */
async function reuseFile(options: EnsureBoxOptions, file: BoxFile, target: string): Promise<boolean> {
  const { root, name, arch } = options;
  for (const entry of await versionEntries(root, name, arch)) {
    if (entry.startsWith('.')) continue;
    const version = await readVersion(path.join(paths.versionsDir(root, name, arch), entry));
    const match = version?.verified && version.manifest.files.find((f) => f.sha256 === file.sha256 && f.size === file.size);
    if (!version || !match) continue;
    await fs.link(path.join(version.dir, match.path), target);
    options.onEvent?.({ type: 'file-done', path: file.path, size: file.size, how: 'reused' });
    return true;
  }
  return false;
}

async function downloadFile(options: EnsureBoxOptions, file: BoxFile, url: string, target: string): Promise<void> {
  const { root } = options;
  const emit = options.onEvent ?? (() => {});
  const partial = paths.partialFile(root, file.sha256);
  // Two boxes may share a file; the partial is theirs to share, one writer at a time.
  const lock = await acquireLock(`${partial}.lock`, { signal: options.signal });
  try {
    emit({ type: 'file-start', path: file.path, size: file.size });
    const { downloadVerified } = await import('./download.js');
    const result = await downloadVerified({
      url,
      sha256: file.sha256,
      size: file.size,
      partialFile: partial,
      metaFile: paths.partialMetaFile(root, file.sha256),
      onProgress: (received) => emit({ type: 'file-progress', path: file.path, received, size: file.size }),
      onRetry: (reason, delayMs) => emit({ type: 'file-retry', path: file.path, reason, delayMs }),
      ...(options.policy ? { policy: options.policy } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    await fs.rename(partial, target);
    emit({ type: 'file-done', path: file.path, size: file.size, how: result.resumedBytes > 0 ? 'resumed' : 'downloaded' });
  } finally {
    await lock.release();
  }
}

async function checkFreeSpace(root: string, files: BoxFile[]): Promise<void> {
  const needed = files.reduce((sum, file) => sum + file.size, 0);
  const stats = await fs.statfs(root);
  const free = stats.bavail * stats.bsize;
  if (free < needed) {
    throw new EnvironmentError(`not enough disk space in ${root}: the box needs ${formatBytes(needed)}, ${formatBytes(free)} free`, {
      hint: 'free some space (kiwi box prune drops unused versions) or point KIWI_BOXED_CACHE_DIR elsewhere',
    });
  }
}

/** Points `current` at versions/<id> with one atomic rename. */
async function switchCurrent(root: string, name: string, arch: Arch, id: string): Promise<void> {
  const link = paths.currentLink(root, name, arch);
  const temporary = `${link}.${process.pid}.tmp`;
  await fs.rm(temporary, { force: true });
  await fs.symlink(path.join('versions', id), temporary);
  await fs.rename(temporary, link);
}

/** After an update, older versions go, except those a running VM still uses. */
async function removeOldVersions(options: EnsureBoxOptions, keepId: string): Promise<void> {
  const { root, name, arch } = options;
  for (const entry of await versionEntries(root, name, arch)) {
    if (entry === keepId || entry.startsWith('.')) continue;
    const result = await removeVersion(path.join(paths.versionsDir(root, name, arch), entry));
    if ('usedBy' in result) {
      options.onEvent?.({ type: 'status', message: `kept ${entry}: in use by a running VM (kiwi box prune removes it later)` });
    }
  }
}
