import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { BuildFailedError, isErrno } from '../../common/errors.js';
import { readdirOrEmpty } from '../../common/read-dir.js';
import { Slots } from '../../common/slots.js';
import { CHANGED_CHUNK_SIZES, CHUNK_SIZES, fileChunks, type ChunkSizes } from './content-chunks.js';

/**
 * xz of an image archive as a series of .xz streams, one per content-defined chunk
 * (content-chunks.ts), each compressed once and kept in a cache named by the sha256 of its
 * bytes. A rebuild whose tar differs from the last one in a few files (config.sh's, the
 * users', apt's caches) recompresses only the chunks around them: at xz's default level the
 * compression is most of a warm build. Concatenated streams are a valid .xz file (the
 * format defines it; xz, tar -J, Python's lzma and Go's xz read them), at a size cost of a
 * few percent against one stream, since no chunk refers back into another.
 *
 *   <cacheDir>/<2 hex>/<sha256>.xz   one compressed chunk, written by rename
 */
export interface ChunkedXzOptions {
  cacheDir: string;
  /** xz processes at once for this archive (each single-threaded); default: the machine's cores, shared by every archive this process compresses. */
  jobs?: number;
  /** The cache is cut back to this size, least recently used first, after each archive. */
  maxCacheBytes?: number;
  /** Tests cut small chunks; archives use CHUNK_SIZES, and CHANGED_CHUNK_SIZES after the last cut. */
  chunkSizes?: ChunkSizes;
  changedChunkSizes?: ChunkSizes;
  /**
   * Offsets where a chunk must end (fileChunks' `cuts`). What comes after the last one is what
   * the build changed: cut finer, and sent to xz before the rest of the archive is read.
   */
  cuts?: readonly number[];
  signal?: AbortSignal;
}

export interface ChunkedXzStats {
  chunks: number;
  /** Chunks taken from the cache. */
  reused: number;
  /** The last chunks: what the build changed (after the last cut). */
  changed: number;
  inputBytes: number;
  outputBytes: number;
}

/** A chunk's .xz stream, and whether it came from the cache or another archive's xz run. */
interface CompressedChunk {
  bytes: Buffer;
  reused: boolean;
}

/** xz's default level, as KIWI compresses. */
const LEVEL = '-6';
const DEFAULT_MAX_CACHE_BYTES = 2 * 1024 ** 3;
/** A chunk being written by a process that died is removed after this long. */
const STALE_TEMP_MS = 60 * 60_000;
/** Chunks in flight per xz process: at the 16 MiB maximum chunk, 64 MiB of input per core. */
const WINDOW_PER_JOB = 4;
const XZ_HEADER_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
const XZ_FOOTER_MAGIC = Buffer.from('YZ');

/**
 * The xz processes of every archive this process compresses: the builds of a pack compress
 * at once, and more xz processes than cores would only share them (at about 100 MB each).
 */
const machineXzSlots = new Slots(os.availableParallelism());

/**
 * Chunks being compressed by this process, by their cache file: builds compressing at once
 * (a pack, a batch) wait for the one xz run of a chunk their images share instead of
 * compressing it again; the cache has it after that run.
 */
const compressing = new Map<string, Promise<Buffer>>();

/** Compresses `input` into `output` (written in place: callers give a temporary name). */
export async function compressChunked(input: string, output: string, options: ChunkedXzOptions): Promise<ChunkedXzStats> {
  const jobs = Math.max(1, options.jobs ?? os.availableParallelism());
  const xzSlots = options.jobs === undefined ? machineXzSlots : new Slots(jobs);
  const stats: ChunkedXzStats = { chunks: 0, reused: 0, changed: 0, inputBytes: 0, outputBytes: 0 };
  const size = fs.statSync(input).size;
  const cuts = (options.cuts ?? []).filter((cut) => cut > 0 && cut < size);
  const changedAt = cuts.length > 0 ? Math.max(...cuts) : size;
  const head = fileChunks(input, options.chunkSizes ?? CHUNK_SIZES, { cuts, end: changedAt });
  const changed = fileChunks(input, options.changedChunkSizes ?? CHANGED_CHUNK_SIZES, { start: changedAt });
  const out = fs.openSync(output, 'w');
  // Compressed in parallel, written in order. Up to `jobs` xz processes at once, and a window
  // of chunks larger than that, so chunks to compress a few cached ones apart still overlap.
  const window = jobs * WINDOW_PER_JOB;
  const inFlight: Promise<CompressedChunk>[] = [];
  const start = (chunk: Buffer): Promise<CompressedChunk> => {
    options.signal?.throwIfAborted();
    stats.chunks += 1;
    stats.inputBytes += chunk.length;
    const compressed = compressedChunk(chunk, options.cacheDir, xzSlots, options.signal);
    // Awaited in turn below; until then a failure must not count as unhandled.
    compressed.catch(() => undefined);
    return compressed;
  };
  const writeNext = async (): Promise<void> => {
    const { bytes, reused } = await inFlight.shift()!;
    fs.writeSync(out, bytes);
    stats.outputBytes += bytes.length;
    if (reused) stats.reused += 1;
  };
  const queue = async (chunk: Promise<CompressedChunk>): Promise<void> => {
    inFlight.push(chunk);
    if (inFlight.length >= window) await writeNext();
  };
  const startChanged = (chunk: Buffer): Promise<CompressedChunk> => {
    stats.changed += 1;
    return start(chunk);
  };
  // In a rebuild the changed chunks are the ones xz has to make: their first ones start
  // while the rest of the archive is read and found in the cache.
  const early: Promise<CompressedChunk>[] = [];
  try {
    for (let next = await changed.next(); !next.done; next = await changed.next()) {
      early.push(startChanged(next.value));
      if (early.length >= window) break;
    }
    for await (const chunk of head) await queue(start(chunk));
    inFlight.push(...early.splice(0));
    for await (const chunk of changed) await queue(startChanged(chunk));
    while (inFlight.length > 0) await writeNext();
  } catch (error) {
    await Promise.allSettled([...inFlight, ...early]);
    throw error;
  } finally {
    await changed.return(undefined);
    fs.closeSync(out);
  }
  await pruneChunkCache(options.cacheDir, options.maxCacheBytes ?? DEFAULT_MAX_CACHE_BYTES);
  return stats;
}

/**
 * One chunk's .xz stream: from the cache (marked as used), from another archive's run of xz on
 * the same chunk, else made by xz and cached. `view` is fileChunks' and changes at its next
 * chunk: everything up to the first await reads it, and a chunk to compress is copied.
 */
async function compressedChunk(view: Buffer, cacheDir: string, xzSlots: Slots, signal?: AbortSignal): Promise<CompressedChunk> {
  const key = createHash('sha256').update(view).digest('hex');
  const file = path.join(cacheDir, key.slice(0, 2), `${key}.xz`);
  const cached = readCachedChunk(file);
  if (cached) return { bytes: cached, reused: true };
  const chunk = Buffer.from(view);
  const running = compressing.get(file);
  if (running) {
    try {
      return { bytes: await running, reused: true };
    } catch {
      // That archive's xz failed or was stopped with its build: this one makes the chunk itself.
      signal?.throwIfAborted();
    }
  }
  const made = compressAndCache(chunk, file, xzSlots, signal);
  compressing.set(file, made);
  try {
    return { bytes: await made, reused: false };
  } finally {
    if (compressing.get(file) === made) compressing.delete(file);
  }
}

/** xz of one chunk, written to the cache at `file` by rename. */
async function compressAndCache(chunk: Buffer, file: string, xzSlots: Slots, signal?: AbortSignal): Promise<Buffer> {
  const xz = await xzSlots.run(() =>
    execa('xz', [LEVEL, '-T1', '-c'], { input: chunk, encoding: 'buffer', stripFinalNewline: false, reject: false, maxBuffer: 2 * chunk.length + (1 << 20), ...(signal ? { cancelSignal: signal } : {}) }),
  );
  if (xz.failed) {
    signal?.throwIfAborted();
    throw new BuildFailedError(`xz failed: ${Buffer.from(xz.stderr).toString().trim() || xz.shortMessage}`, { hint: 'xz must be installed on this machine (xz-utils)' });
  }
  const bytes = Buffer.from(xz.stdout);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    fs.writeFileSync(temp, bytes);
    fs.renameSync(temp, file);
  } finally {
    fs.rmSync(temp, { force: true });
  }
  return bytes;
}

/**
 * A cached chunk, or undefined when there is none or it is not a whole .xz stream (a damaged
 * file is recompressed and replaced). Its time is set to now: the cache is pruned by it.
 */
function readCachedChunk(file: string): Buffer | undefined {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
  if (!bytes.subarray(0, XZ_HEADER_MAGIC.length).equals(XZ_HEADER_MAGIC) || !bytes.subarray(-XZ_FOOTER_MAGIC.length).equals(XZ_FOOTER_MAGIC)) return undefined;
  const now = new Date();
  fs.utimesSync(file, now, now);
  return bytes;
}

/**
 * Cuts the cache back to 3/4 of `maxBytes` once it holds more, least recently used first,
 * and removes temporary files that dead writers left. Another build may be reading a chunk
 * removed here: it finds none and compresses it again.
 */
export async function pruneChunkCache(cacheDir: string, maxBytes: number, now = Date.now()): Promise<void> {
  const entries: { file: string; size: number; usedMs: number }[] = [];
  let total = 0;
  // Only kiwi's <2 hex> directories: anything else someone left there is not the cache's.
  for (const sub of (await readdirOrEmpty(cacheDir)).filter((name) => /^[0-9a-f]{2}$/.test(name))) {
    for (const name of await readdirOrEmpty(path.join(cacheDir, sub))) {
      const file = path.join(cacheDir, sub, name);
      const stat = fs.statSync(file, { throwIfNoEntry: false });
      if (!stat) continue;
      if (name.endsWith('.tmp')) {
        if (now - stat.mtimeMs > STALE_TEMP_MS) fs.rmSync(file, { force: true });
        continue;
      }
      entries.push({ file, size: stat.size, usedMs: stat.mtimeMs });
      total += stat.size;
    }
  }
  if (total <= maxBytes) return;
  entries.sort((a, b) => a.usedMs - b.usedMs);
  for (const entry of entries) {
    if (total <= (maxBytes * 3) / 4) break;
    fs.rmSync(entry.file, { force: true });
    total -= entry.size;
  }
}
