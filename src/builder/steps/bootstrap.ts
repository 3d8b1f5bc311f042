import fs from 'node:fs';
import path from 'node:path';
import { hostArch } from '../../common/arch.js';
import { markInUse } from '../../common/in-use.js';
import { withLock } from '../../common/lock.js';
import type { BuildLog } from '../build-log.js';
import type { ImageModel } from '../description/model.js';
import { bootstrapLayerPaths, type BuildCachePaths } from '../paths.js';
import { bootstrapInputs, bootstrapKey, mmdebstrapArgv } from './bootstrap-plan.js';
import { pruneLeastRecentlyUsed } from './cache-prune.js';
import { makeLayerDir } from './layer-dir.js';
import { runLogged } from './run-logged.js';

export interface BootstrapLayer {
  key: string;
  /** The layer's root tree: the read-only lower layer of the build container. */
  root: string;
  /** "cached": reused; "built": made by this build. */
  status: 'cached' | 'built';
  /** Ends this build's use of the layer (it may be pruned once no build uses it). */
  release(): Promise<void>;
}

/** Bootstrap layers kept that no build uses, beside the one a build just made: the most recently used. */
export const UNUSED_BOOTSTRAP_LAYERS = 4;

/**
 * Returns the bootstrap layer for the model, making it with mmdebstrap when the cache has
 * none: whole or not at all (makeLayerDir), under the layer's lock, so two builds at once
 * make it once. The lock also guards the build's in-use mark, which keeps the layer from
 * being pruned while the build runs. A build that adds a layer prunes the least recently
 * used others (a `file://` repository in a new place, a changed package list: each makes one).
 */
export async function ensureBootstrapLayer(model: ImageModel, cache: BuildCachePaths, log: BuildLog, signal?: AbortSignal): Promise<BootstrapLayer> {
  const inputs = bootstrapInputs(model);
  const key = bootstrapKey(inputs);
  const layer = bootstrapLayerPaths(cache, key);
  fs.mkdirSync(cache.bootstrapDir, { recursive: true });
  const found = await withLock(
    layer.lock,
    async () => {
      let status: BootstrapLayer['status'] = 'cached';
      if (!fs.existsSync(layer.meta)) {
        await makeLayerDir(layer.dir, key, { key, inputs, createdAt: new Date().toISOString() }, async (temp) => {
          await runLogged(mmdebstrapArgv(inputs, path.join(temp, 'root'), { foreign: model.arch !== hostArch() }), { log, step: 'bootstrap', ...(signal ? { signal } : {}) });
        });
        status = 'built';
      }
      const inUse = await markInUse(layer.dir);
      return { key, root: layer.root, status, release: inUse.release };
    },
    { ...(signal ? { signal } : {}), onWait: (owner) => log.emit({ type: 'log', level: 'info', message: `waiting for another build (${owner}) making bootstrap layer ${key}`, step: 'bootstrap' }) },
  );
  if (found.status === 'built') {
    const removed = await pruneLeastRecentlyUsed(cache.bootstrapDir, { keep: key, maxUnused: UNUSED_BOOTSTRAP_LAYERS });
    if (removed.length) log.emit({ type: 'log', level: 'info', message: `removed ${removed.length} bootstrap layer(s) no build used lately: ${removed.join(', ')}`, step: 'bootstrap' });
  }
  return found;
}
