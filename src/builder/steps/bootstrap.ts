import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { hostArch } from '../../common/arch.js';
import type { BuildLog } from '../build-log.js';
import type { ImageModel } from '../description/model.js';
import { bootstrapLayerPaths, type BuildCachePaths } from '../paths.js';
import { bootstrapInputs, bootstrapKey, mmdebstrapArgv } from './bootstrap-plan.js';
import { withFileLock } from './file-lock.js';
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
 * none. Made in a temporary directory and renamed into place when complete, under a lock,
 * so two builds at once make it once and nobody ever sees half a layer.
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
      const temp = path.join(cache.bootstrapDir, `.tmp-${key}-${randomBytes(4).toString('hex')}`);
      fs.mkdirSync(temp, { recursive: true });
      try {
        const tempRoot = path.join(temp, 'root');
        await runLogged(mmdebstrapArgv(inputs, tempRoot, { foreign: model.arch !== hostArch() }), { log, step: 'bootstrap', ...(signal ? { signal } : {}) });
        fs.writeFileSync(path.join(temp, 'layer.json'), `${JSON.stringify({ key, inputs, createdAt: new Date().toISOString() }, null, 2)}\n`);
        fs.rmSync(layer.dir, { recursive: true, force: true });
        fs.renameSync(temp, layer.dir);
      } finally {
        fs.rmSync(temp, { recursive: true, force: true });
      }
      return { key, root: layer.root, status: 'built' as const };
    },
    { ...(signal ? { signal } : {}), onWait: (owner) => log.emit({ type: 'log', level: 'info', message: `waiting for another build (${owner}) making bootstrap layer ${key}`, step: 'bootstrap' }) },
  );
}
