import fs from 'node:fs';
import path from 'node:path';
import type { Arch } from '../common/arch.js';
import { buildBoxWithProgress } from './box-build.js';

/**
 * A box with a recipe but no published manifest is built locally the first time it is
 * needed, so `kiwi box shell debian` and `kiwi boxbuild --box debian` work on a fresh
 * machine with no box server. A cached box, or one a server publishes, is left to ensureBox.
 */
export async function buildIfUnavailable(name: string, arch: Arch, manifestUrl: string | undefined, signal: AbortSignal): Promise<void> {
  if (manifestUrl) return;
  const [{ BUNDLED_BOXES_DIR }, { cacheRoot }, { readCurrent }] = await Promise.all([
    import('../box/catalog.js'),
    import('../box/paths.js'),
    import('../box/store.js'),
  ]);
  if ((await readCurrent(cacheRoot(), name, arch))?.verified) return;
  if (!fs.existsSync(path.join(BUNDLED_BOXES_DIR, name, 'recipe.yaml'))) return;
  process.stderr.write(`kiwi: box ${name} (${arch}) is not cached and no server publishes it: building it from its recipe (a few minutes, once)\n`);
  await buildBoxWithProgress({ name, arch, force: false, signal });
}
