import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { BuildFailedError } from '../common/errors.js';
import { compressedName, type ResultNames } from '../builder/outputs/naming.js';
import type { KiwiResultJson } from '../builder/outputs/result-file.js';
import { removeTempFiles, tempNameFor, writeFileAtomic } from '../builder/outputs/write-atomic.js';
import type { BuildEvent } from '../protocol/events.js';

/**
 * A build in a box leaves its image as an uncompressed .tar in the target dir (xz under
 * emulation is the slowest step of a build); the host compresses it here on all its cores,
 * renames it to its final name and updates kiwi.result.json to match.
 */
export async function compressDeferredImage(result: BuildEvent, signal?: AbortSignal): Promise<BuildEvent> {
  if (!result.compressionDeferred) return result;
  const image = compressedName(result.image);
  const temp = tempNameFor(image);
  try {
    const xz = await execa('xz', ['-T0', '-c', result.image], { stdin: 'ignore', stdout: { file: temp }, reject: false, ...(signal ? { cancelSignal: signal } : {}) });
    if (xz.failed) {
      if (signal?.aborted) throw signal.reason;
      throw new BuildFailedError(`compressing ${result.image} failed: ${String(xz.stderr).trim() || xz.shortMessage}`, { hint: 'xz must be installed on this machine (xz-utils)' });
    }
    fs.renameSync(temp, image);
  } finally {
    fs.rmSync(temp, { force: true });
  }
  fs.rmSync(result.image, { force: true });
  const resultJson = JSON.parse(fs.readFileSync(result.result, 'utf8')) as KiwiResultJson;
  for (const file of Object.values(resultJson.result_files)) {
    if (file.filename === result.image) Object.assign(file, { filename: image, compress: false });
  }
  writeFileAtomic(result.result, `${JSON.stringify(resultJson, null, 2)}\n`);
  const finished: BuildEvent = { ...result, image, sizeBytes: fs.statSync(image).size };
  delete finished.compressionDeferred;
  return finished;
}

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
  if (uncompressed.endsWith('.tar') && fs.existsSync(uncompressed)) {
    fs.rmSync(uncompressed, { force: true });
    const resultFile = path.join(targetDir, names.result);
    try {
      const json = JSON.parse(fs.readFileSync(resultFile, 'utf8')) as KiwiResultJson;
      if (Object.values(json.result_files).some((file) => file.filename === uncompressed)) fs.rmSync(resultFile, { force: true });
    } catch {
      // No result file, or not kiwi's: leave it.
    }
  }
}
