import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { liveUsers, markInUse } from '../../common/in-use.js';
import { withLock } from '../../common/lock.js';
import { renderKiwiProfile } from '../description/kiwi-env.js';
import type { ImageModel } from '../description/model.js';
import { packagesLayerPaths, type BuildCachePaths } from '../paths.js';
import { containerSourcesList } from './apt-sources.js';
import { pruneLeastRecentlyUsed } from './cache-prune.js';
import type { DescriptionFiles } from './driver-script.js';
import { KCONFIG } from './kconfig.js';
import { makeLayerDir } from './layer-dir.js';

/**
 * The packages layer: the upper layer of the build's packages phase (post_bootstrap.sh, the
 * upgrade and the install) kept over its bootstrap layer, so a build whose packages would
 * come out the same skips that phase. "The same" is decided by what made it — the phase's
 * script and inputs (the lineage) — and by the repositories' state after this build's
 * update (repositoryState). A repository that publishes anything new makes a new layer,
 * so a cached layer never holds packages older than a fresh install would.
 * FORMAT changes when kiwi changes how it makes the layer, so old layers are not reused.
 */
const FORMAT = 1;

/** Lineages kept that no build uses, beside the one a build just added a layer to: the most recently used. */
export const UNUSED_LINEAGES = 8;

export interface PackagesLayerInputs {
  /** The bootstrap layer it lies on. */
  bootstrapKey: string;
  /** The packages phase's driver script (the upgrade and install commands, the package list). */
  script: string;
  /** The container's sources.list. */
  sources: string;
  /** post_bootstrap.sh and the script environment it reads, when the description has one. */
  postBootstrap?: { script: string; profile: string; kconfig: string };
}

export interface PackagesLayer {
  /** <lineage>/<state>, as logged and written to layer.json. */
  key: string;
  /** The layer's directory, to be stacked over the bootstrap layer. */
  upper: string;
  status: 'cached' | 'built';
  /** Ends this build's use of the layer (it may be pruned once no build uses it). */
  release(): Promise<void>;
}

/** The inputs of a model's packages phase, given its bootstrap layer and script (writeBuildInputs). */
export function packagesLayerInputs(model: ImageModel, bootstrapKey: string, script: string, files: DescriptionFiles): PackagesLayerInputs {
  return {
    bootstrapKey,
    script,
    sources: containerSourcesList(model.repositories),
    ...(files.postBootstrap
      ? { postBootstrap: { script: fs.readFileSync(path.join(model.descriptionDir, 'post_bootstrap.sh'), 'utf8'), profile: renderKiwiProfile(model), kconfig: KCONFIG } }
      : {}),
  };
}

/** What the layer is made from, without the repositories' state: 32 hex digits. */
export function packagesLineage(inputs: PackagesLayerInputs): string {
  return sha256(JSON.stringify({ format: FORMAT, ...inputs })).slice(0, 32);
}

/** apt's lists name a suite's release file <uri>_dists_<suite>_InRelease (or _Release), a flat repository's <uri>_._Release. */
const RELEASE_FILE = /(?:In)?Release$/;

/**
 * The repositories' state as apt saw it after the update: the names and contents of the
 * index files in apt's lists (local repositories' too: apt's copy: method copies them).
 * A suite's InRelease or Release lists the hashes of its Packages files, which apt checks,
 * so those hashes stand for their Packages files and only index files that no Release
 * covers (a flat repository without one) are read whole: tens of kilobytes instead of
 * tens of megabytes, which counts under emulation.
 */
export function repositoryState(listsDir: string): string {
  const names = fs
    .readdirSync(listsDir, { withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => entry.name)
    .sort();
  const releasePrefixes = names.flatMap((name) => (RELEASE_FILE.test(name) ? [name.replace(RELEASE_FILE, '')] : [])).filter((prefix) => prefix !== '');
  const hash = createHash('sha256');
  for (const name of names) {
    const isRelease = RELEASE_FILE.test(name);
    if (name === 'lock' || (!isRelease && releasePrefixes.some((prefix) => name.startsWith(prefix)))) continue;
    const content = fs.readFileSync(path.join(listsDir, name));
    const part = isRelease ? (releaseHashes(content.toString('utf8')) ?? content) : content;
    hash.update(`${name}\0${part.length}\0`);
    hash.update(part);
  }
  return hash.digest('hex').slice(0, 32);
}

/**
 * A release file's SHA256 field: the hashes of the suite's index files, without its Date,
 * Valid-Until and signature, which change when an archive re-signs an unchanged suite
 * (Debian's security archive does so at least weekly). Undefined when it has none.
 */
export function releaseHashes(text: string): string | undefined {
  const field = /^SHA256:[ \t]*\n((?:[ \t].*\n?)+)/m.exec(text.replace(/\r\n/g, '\n'));
  return field?.[1];
}

/**
 * Returns the packages layer for these inputs and repository state, running `make` (the
 * packages phase, saving its upper layer to the directory it is given) when the cache has
 * none. Made whole or not at all (makeLayerDir), under the lineage's lock,
 * which also guards the marks of the builds using a layer: a new layer replaces the
 * lineage's older ones that no live build uses, so the cache keeps one per lineage, and
 * the least recently used lineages beyond UNUSED_LINEAGES go (pruneLeastRecentlyUsed).
 */
export async function ensurePackagesLayer(
  cache: BuildCachePaths,
  lineage: string,
  state: string,
  make: (upperDir: string) => Promise<void>,
  options: { signal?: AbortSignal; onWait?: (owner: string) => void } = {},
): Promise<PackagesLayer> {
  const layer = packagesLayerPaths(cache, lineage, state);
  const key = `${lineage}/${state}`;
  fs.mkdirSync(layer.lineageDir, { recursive: true });
  const found = await withLock(
    layer.lock,
    async () => {
      let status: PackagesLayer['status'] = 'cached';
      if (!fs.existsSync(layer.meta)) {
        await makeLayerDir(layer.dir, state, { key, createdAt: new Date().toISOString() }, (temp) => make(path.join(temp, 'upper')));
        status = 'built';
      }
      const inUse = await markInUse(layer.dir);
      await pruneLineage(layer.lineageDir, state);
      return { key, upper: layer.upper, status, release: inUse.release };
    },
    options,
  );
  if (found.status === 'built') await pruneLeastRecentlyUsed(cache.packagesDir, { keep: lineage, maxUnused: UNUSED_LINEAGES });
  return found;
}

/** Removes the lineage's other layers that no live build uses, and what killed builds left half-made (called under the lock). */
async function pruneLineage(lineageDir: string, keep: string): Promise<void> {
  for (const name of fs.readdirSync(lineageDir)) {
    if (name === keep) continue;
    const dir = path.join(lineageDir, name);
    if ((await liveUsers(dir)).length === 0) fs.rmSync(dir, { recursive: true, force: true });
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
