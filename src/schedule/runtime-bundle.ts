import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EnvironmentError } from '../common/errors.js';

/**
 * The in-box runtime file, dist/box-runtime.mjs (made by `npm run build`), found from this
 * module's place in the package: the nearest directory above it with a package.json,
 * whether this runs from dist/ or from src/ (tests).
 */
export function runtimeBundlePath(from: string = fileURLToPath(import.meta.url)): string {
  let dir = path.dirname(from);
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    if (dir === path.dirname(dir)) throw new EnvironmentError(`cannot find kiwi's package directory above ${from}`, { hint: 'reinstall kiwi' });
    dir = path.dirname(dir);
  }
  const bundle = path.join(dir, 'dist', 'box-runtime.mjs');
  if (!fs.existsSync(bundle)) throw new EnvironmentError(`the in-box runtime ${bundle} is missing`, { hint: 'run npm run build in the kiwi package' });
  return bundle;
}
