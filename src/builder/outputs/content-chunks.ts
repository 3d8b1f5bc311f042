import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';

/**
 * Content-defined chunking: a file cut where a rolling hash of its last bytes meets a
 * condition, so a cut depends only on nearby content. Two archives of mostly the same tree
 * then share most chunks even where bytes were inserted or removed between them, and each
 * chunk can be compressed once (chunked-xz.ts). The hash is a gear hash and the cut rule
 * FastCDC's normalized one: each byte shifts the 32-bit state left and adds a random value
 * for the byte (so only the last 32 bytes count), and a cut needs more zero bits before the
 * average size than after it, which keeps chunks near the average.
 */
export interface ChunkSizes {
  /** No cut before this many bytes. */
  min: number;
  /** Where the cut rule turns from hard to easy. */
  average: number;
  /** A cut here if the hash never met the rule (long runs of zeros). */
  max: number;
  /** Zero bits the hash needs for a cut before `average`, and after it. */
  hardBits: number;
  easyBits: number;
}

/**
 * About 5 MiB on average. Smaller chunks recompress less after a change, larger ones
 * compress better: see bench/RESULTS.md (bench/build). Changing these moves every cut, so
 * nothing in the cache is found again.
 */
export const CHUNK_SIZES: ChunkSizes = { min: 2 << 20, average: 6 << 20, max: 16 << 20, hardBits: 23, easyBits: 19 };

/**
 * About 1 MiB on average, for what a build changed (the part of its archive after the last
 * forced cut): new in every build, so its chunks are compressed every time, and smaller ones
 * let xz run on every core where the usual size would make one or two chunks for one xz.
 */
export const CHANGED_CHUNK_SIZES: ChunkSizes = { min: 256 << 10, average: 1 << 20, max: 4 << 20, hardBits: 21, easyBits: 17 };

/** The gear table: fixed for all time, since cuts (and the cache's keys) derive from it. */
const GEAR = new Int32Array(256).map((_, byte) => createHash('sha256').update(`kiwi-gear-${byte}`).digest().readInt32LE(0));

/** The gear hash's state depends on the last 32 bytes only; starting this far before `min` gives the same state as hashing from the chunk's start. */
const WARM_UP = 64;

/** Where the chunk at the start of `data` ends, or undefined if `data` has no cut (too short, or no match before max). */
export function findCut(data: Uint8Array, sizes: ChunkSizes = CHUNK_SIZES): number | undefined {
  const hard = 2 ** sizes.hardBits - 1;
  const easy = 2 ** sizes.easyBits - 1;
  const end = Math.min(data.length, sizes.max);
  let hash = 0;
  for (let at = Math.max(0, sizes.min - WARM_UP); at < end; at++) {
    hash = ((hash << 1) + GEAR[data[at]!]!) | 0;
    if (at >= sizes.min && (hash & (at < sizes.average ? hard : easy)) === 0) return at + 1;
  }
  return data.length >= sizes.max ? sizes.max : undefined;
}

/** The part of a file to cut into chunks, and where chunks must end besides the rule's cuts. */
export interface ChunkRange {
  /**
   * Offsets where a chunk must end (e.g. where the entries a build changed begin in its tar):
   * the chunking after each starts afresh, so the chunks before and after a changed region
   * are found again whatever the region holds.
   */
  cuts?: readonly number[];
  /** Bytes [start, end) are cut; by default the whole file. */
  start?: number;
  end?: number;
}

/**
 * The chunks of the file (or of its range) in order, read in pieces into one buffer of max
 * bytes. Each chunk is a view of that buffer, valid until the next one is asked for: a
 * caller that keeps one copies it (most are only hashed, and copies of 200 MiB took longer
 * than finding the cuts).
 */
export async function* fileChunks(file: string, sizes: ChunkSizes = CHUNK_SIZES, range: ChunkRange = {}): AsyncGenerator<Buffer> {
  let position = range.start ?? 0;
  const end = range.end ?? Infinity;
  const forced = (range.cuts ?? []).filter((cut) => cut > position && cut < end).sort((a, b) => a - b);
  const handle = await fs.open(file, 'r');
  try {
    const buffer = Buffer.allocUnsafe(sizes.max);
    let filled = 0;
    let ended = false;
    for (;;) {
      while (!ended && filled < sizes.max) {
        const wanted = Math.min(sizes.max - filled, end - position - filled);
        const { bytesRead } = wanted > 0 ? await handle.read(buffer, filled, wanted, position + filled) : { bytesRead: 0 };
        if (bytesRead === 0) ended = true;
        filled += bytesRead;
      }
      if (filled === 0) return;
      while (forced.length > 0 && forced[0]! <= position) forced.shift();
      const window = Math.min(filled, forced.length > 0 ? forced[0]! - position : filled);
      const cut = findCut(buffer.subarray(0, window), sizes) ?? window;
      yield buffer.subarray(0, cut);
      buffer.copyWithin(0, cut, filled);
      filled -= cut;
      position += cut;
    }
  } finally {
    await handle.close();
  }
}
