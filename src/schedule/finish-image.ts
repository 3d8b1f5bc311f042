import path from 'node:path';
import { removeUncompressedImage } from '../builder/outputs/compress-image.js';
import { compressedName, type ResultNames } from '../builder/outputs/naming.js';
import { removeTempFiles } from '../builder/outputs/write-atomic.js';

/**
 * After a failed or interrupted build in a box: removes what the build wrote half-way into
 * the target dir — the temporary result files, and the uncompressed image with the
 * kiwi.result.json that points at it. Files of earlier builds and unrelated files stay.
 */
export function removeBuildLeftovers(targetDir: string, names: ResultNames): void {
  const uncompressed = path.join(targetDir, names.image);
  const results = [uncompressed, path.join(targetDir, compressedName(names.image)), path.join(targetDir, names.packages), path.join(targetDir, names.result)];
  // Whatever pid wrote them: the box that did is gone.
  removeTempFiles(results, () => true);
  removeUncompressedImage(targetDir, names);
}
