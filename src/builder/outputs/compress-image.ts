import fs from 'node:fs';
import path from 'node:path';
import type { BuildEvent } from '../../protocol/events.js';
import { compressChunked, type ChunkedXzStats } from './chunked-xz.js';
import { compressedName, type ResultNames } from './naming.js';
import type { KiwiResultJson } from './result-file.js';
import { tempNameFor, writeFileAtomic } from './write-atomic.js';

/**
 * The last step of an archive build: its uncompressed .tar becomes the .tar.xz users get,
 * through the chunk cache (chunked-xz.ts) on this machine's cores. A build in a box leaves
 * the .tar for the host (xz under emulation would be the slowest step of a build); a native
 * build does the same, so both share one path. kiwi.result.json is updated to the new name.
 */
export async function compressImage(result: BuildEvent, cacheDir: string, signal?: AbortSignal): Promise<{ event: BuildEvent; stats: ChunkedXzStats }> {
  const image = compressedName(result.image);
  const temp = tempNameFor(image);
  let stats: ChunkedXzStats;
  try {
    stats = await compressChunked(result.image, temp, { cacheDir, ...(result.chunkCuts ? { cuts: result.chunkCuts } : {}), ...(signal ? { signal } : {}) });
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
  const event: BuildEvent = { ...result, image, sizeBytes: fs.statSync(image).size };
  delete event.compressionDeferred;
  delete event.chunkCuts;
  return { event, stats };
}

/**
 * What the compress step says about its work, e.g. "3 of 44 chunks compressed, 41 from the
 * cache (the last 3 hold what the build changed); 190 MiB → 39 MiB".
 */
export function describeCompression(stats: ChunkedXzStats): string {
  const mib = (bytes: number): number => Math.round(bytes / 1024 ** 2);
  const made = stats.chunks - stats.reused;
  const changed = stats.changed > 0 ? ` (the last ${stats.changed} hold what the build changed)` : '';
  return `${made} of ${stats.chunks} chunks compressed, ${stats.reused} from the cache${changed}; ${mib(stats.inputBytes)} MiB → ${mib(stats.outputBytes)} MiB`;
}

/**
 * The uncompressed image of a build that ended before its compression did (failed, or
 * killed), with the kiwi.result.json that points at it. An earlier build's compressed image
 * and unrelated files stay.
 */
export function removeUncompressedImage(targetDir: string, names: ResultNames): void {
  const uncompressed = path.join(targetDir, names.image);
  if (!uncompressed.endsWith('.tar') || !fs.existsSync(uncompressed)) return;
  fs.rmSync(uncompressed, { force: true });
  const resultFile = path.join(targetDir, names.result);
  try {
    const json = JSON.parse(fs.readFileSync(resultFile, 'utf8')) as KiwiResultJson;
    if (Object.values(json.result_files).some((file) => file.filename === uncompressed)) fs.rmSync(resultFile, { force: true });
  } catch {
    // No result file, or not kiwi's: leave it.
  }
}
