import fs from 'node:fs';
import path from 'node:path';
import { hostArch } from '../../common/arch.js';
import type { BuildLog } from '../build-log.js';
import type { ImageModel } from '../description/model.js';
import { bootstrapLayerPaths, type BuildCachePaths } from '../paths.js';
import { bootstrapInputs, bootstrapKey, mmdebstrapArgv } from './bootstrap-plan.js';
import { withFileLock } from './file-lock.js';
import { makeLayerDir } from './layer-dir.js';
import { runLogged } from './run-logged.js';

export interface BootstrapLayer {
  key: string;
  /** The layer's root tree: the read-only lower layer of the build container. */
  root: string;
  /** "cached": reused; "built": made by this build. */
  status: 'cached' | 'built';
}

/**
 * Returns the bootstrap layer for the model, making it with mmdebstrap when the cache has
 * none: whole or not at all (makeLayerDir), under a lock, so two builds at once make it once.
 */
export async function ensureBootstrapLayer(model: ImageModel, cache: BuildCachePaths, log: BuildLog, signal?: AbortSignal): Promise<BootstrapLayer> {
  const inputs = bootstrapInputs(model);
  const key = bootstrapKey(inputs);
  const layer = bootstrapLayerPaths(cache, key);
  if (fs.existsSync(layer.meta)) return { key, root: layer.root, status: 'cached' };
  fs.mkdirSync(cache.bootstrapDir, { recursive: true });
  return withFileLock(
    layer.lock,
    async () => {
      // Another build may have made it while this one waited.
      if (fs.existsSync(layer.meta)) return { key, root: layer.root, status: 'cached' as const };
      await makeLayerDir(layer.dir, key, { key, inputs, createdAt: new Date().toISOString() }, async (temp) => {
        await runLogged(mmdebstrapArgv(inputs, path.join(temp, 'root'), { foreign: model.arch !== hostArch() }), { log, step: 'bootstrap', ...(signal ? { signal } : {}) });
      });
      return { key, root: layer.root, status: 'built' as const };
    },
    { ...(signal ? { signal } : {}), onWait: (owner) => log.emit({ type: 'log', level: 'info', message: `waiting for another build (${owner}) making bootstrap layer ${key}`, step: 'bootstrap' }) },
  );
}
