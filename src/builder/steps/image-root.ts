import fs from 'node:fs';
import type { ResourceLimits } from '../../runtime/spec.js';
import type { BuildLog } from '../build-log.js';
import type { ImageModel } from '../description/model.js';
import type { BuildCachePaths, buildDirPaths } from '../paths.js';
import { pruneUnusedDownloads } from './apt-archives.js';
import { aptListsCache, restoreAptLists, saveAptLists } from './apt-lists.js';
import { savedListsCurrent } from './apt-lists-current.js';
import type { BootstrapLayer } from './bootstrap.js';
import { findDescriptionFiles, runBuildPhase, writeBuildInputs } from './build-phase.js';
import { warmLayers } from './warm-layers.js';
import { ensurePackagesLayer, packagesLayerInputs, packagesLineage, repositoryState } from './packages-layer.js';

export interface ImageRootOptions {
  model: ImageModel;
  cache: BuildCachePaths;
  /** This build's directory (input/, apt-lists/, root/). */
  build: ReturnType<typeof buildDirPaths>;
  bootstrap: BootstrapLayer;
  /** The runtime runs this on the finished tree instead of saving it to build.root. */
  export?: { argv: string[]; step: { id: string; message: string } };
  /** On a failed step, keep the root tree as it was at cache/failed-root (kiwi boxbuild --box-debug). */
  keepFailedRoot?: boolean;
  limits?: ResourceLimits;
  log: BuildLog;
  signal?: AbortSignal;
}

/**
 * The image's root tree, in three containers over the bootstrap layer: the update (apt's
 * index files, kept between builds of the same sources; skipped while every repository
 * serves the InRelease saved with them), the packages phase, whose upper
 * layer is kept as the packages layer and reused while its inputs and the repositories
 * are unchanged, and the image phase over both layers, whose tree the runtime archives
 * (export) or saves to build.root. `release` ends the build's use of the packages layer.
 */
export async function prepareImageRoot(options: ImageRootOptions): Promise<{ peakMemoryBytes: number | null; release: () => Promise<void> }> {
  const { model, cache, build, log, signal } = options;
  const aptLists = aptListsCache(cache.aptLists, model);
  const restored = await restoreAptLists(aptLists, build.aptLists, signal);
  log.emit({ type: 'log', level: 'debug', message: `apt index files: ${restored} from the cache`, step: 'sources' });
  const files = findDescriptionFiles(model);
  const scripts = writeBuildInputs(model, build.input, files);
  const phase = {
    model,
    inputDir: build.input,
    aptArchives: cache.aptArchives,
    aptLists: build.aptLists,
    stateRoot: cache.runsDir,
    log,
    ...(options.limits ? { limits: options.limits } : {}),
    ...(signal ? { signal } : {}),
  };
  const keepFailed = options.keepFailedRoot ? { failedRootDir: build.root } : {};
  const onFailure = (error: unknown): never => {
    if (options.keepFailedRoot) keepFailedRoot(build.root, cache.failedRoot, log);
    throw error;
  };
  const bootstrapRoot = options.bootstrap.root;
  const lists = restored > 0 ? await savedListsCurrent(model.repositories, build.aptLists, signal ? { signal } : {}) : { current: false as const, reason: 'none saved' };
  let peakMemoryBytes: number | null = null;
  if (lists.current) {
    log.emit({ type: 'step', id: 'sources', state: 'start', message: "the index files of an earlier build: every repository's InRelease is unchanged" });
    log.emit({ type: 'step', id: 'sources', state: 'done', message: 'cached' });
  } else {
    log.emit({ type: 'log', level: 'debug', message: `apt-get update: the saved index files are not current (${lists.reason})`, step: 'sources' });
    peakMemoryBytes = await runBuildPhase({ ...phase, phase: 'update', layers: [bootstrapRoot] });
  }
  const lineage = packagesLineage(packagesLayerInputs(model, options.bootstrap.key, scripts.packages, files));
  const layer = await ensurePackagesLayer(
    cache,
    lineage,
    repositoryState(build.aptLists),
    async (upperDir) => {
      const peak = await runBuildPhase({ ...phase, ...keepFailed, phase: 'packages', layers: [bootstrapRoot], saveUpperDir: upperDir }).catch(onFailure);
      peakMemoryBytes = maxOf(peakMemoryBytes, peak);
    },
    { ...(signal ? { signal } : {}), onWait: (owner) => log.emit({ type: 'log', level: 'info', message: `waiting for another build (${owner}) with packages layer ${lineage}`, step: 'packages' }) },
  );
  try {
    if (layer.status === 'built') {
      log.emit({ type: 'log', level: 'info', message: `packages layer ${layer.key}: built`, step: 'packages' });
    } else {
      log.emit({ type: 'step', id: 'packages', state: 'start', message: `the packages layer of an earlier build (${layer.key}): same packages, same repositories` });
      log.emit({ type: 'step', id: 'packages', state: 'done', message: 'cached' });
    }
    const warming = warmLayers([layer.upper, bootstrapRoot]);
    const imagePeak = await runBuildPhase({
      ...phase,
      ...keepFailed,
      phase: 'image',
      layers: [layer.upper, bootstrapRoot],
      ...(options.export ? { export: options.export } : { commitDir: build.root }),
    })
      .catch(onFailure)
      .finally(warming.stop);
    await saveAptLists(aptLists, build.aptLists, signal);
    await pruneUnusedDownloads(cache.aptArchives, log);
    return { peakMemoryBytes: maxOf(peakMemoryBytes, imagePeak), release: layer.release };
  } catch (error) {
    await layer.release();
    throw error;
  }
}

function maxOf(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}

/** Moves a failed build's committed tree to where a debugging user finds it (replacing the last one). */
function keepFailedRoot(root: string, failedRoot: string, log: BuildLog): void {
  fs.rmSync(failedRoot, { recursive: true, force: true });
  if (!fs.existsSync(root)) return;
  fs.renameSync(root, failedRoot);
  log.emit({ type: 'log', level: 'info', message: `the failed build's root tree is kept at ${failedRoot}` });
}
