import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Makes a cached layer directory whole or not at all: `make` fills a temporary sibling
 * (`.tmp-<name>-<random>`), then layer.json with `meta` is written and the directory is
 * renamed into place, so no build ever sees half a layer. On failure the temporary
 * directory goes. Callers hold the layer's lock, and their cache cleanup removes `.tmp-`
 * directories that a killed build left.
 */
export async function makeLayerDir(dir: string, name: string, meta: object, make: (tempDir: string) => Promise<void>): Promise<void> {
  const temp = path.join(path.dirname(dir), `.tmp-${name}-${randomBytes(4).toString('hex')}`);
  fs.mkdirSync(temp, { recursive: true });
  try {
    await make(temp);
    fs.writeFileSync(path.join(temp, 'layer.json'), `${JSON.stringify(meta, null, 2)}\n`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(temp, dir);
  } finally {
    fs.rmSync(temp, { recursive: true, force: true });
  }
}
