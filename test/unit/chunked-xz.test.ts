import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { compressChunked, pruneChunkCache } from '../../src/builder/outputs/chunked-xz.js';
import { fileChunks, findCut, type ChunkSizes } from '../../src/builder/outputs/content-chunks.js';
import { tempDir } from '../fixtures/temp-dir.js';

const SMALL: ChunkSizes = { min: 64 << 10, average: 128 << 10, max: 512 << 10, hardBits: 18, easyBits: 15 };
const TINY: ChunkSizes = { min: 8 << 10, average: 16 << 10, max: 64 << 10, hardBits: 15, easyBits: 12 };

/** Compressible bytes that do not repeat: numbered lines with a hash each. */
function textBytes(lines: number, seed = 'a'): Buffer {
  const parts: string[] = [];
  for (let line = 0; line < lines; line++) parts.push(`${line} ${createHash('md5').update(`${seed}${line}`).digest('hex').slice(0, 12)} some words of a file in a tree\n`);
  return Buffer.from(parts.join(''));
}

async function chunksOf(file: string, sizes = SMALL, cuts: number[] = []): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of fileChunks(file, sizes, { cuts })) chunks.push(Buffer.from(chunk));
  return chunks;
}

const hashOf = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** The sha256 of what `xz -dc` makes of the file (compared as hashes: toEqual on megabytes is slow). */
async function decompressed(file: string): Promise<string> {
  return hashOf((await execa('xz', ['-dc', file], { encoding: 'buffer', stripFinalNewline: false })).stdout);
}

describe('content-defined chunks', () => {
  it('cut the file into pieces within min and max that join back into it', async () => {
    const dir = tempDir();
    const data = textBytes(40_000);
    fs.writeFileSync(path.join(dir, 'f'), data);
    const chunks = await chunksOf(path.join(dir, 'f'));
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    expect(chunks.length).toBeGreaterThan(8);
    for (const chunk of chunks.slice(0, -1)) {
      expect(chunk.length).toBeGreaterThanOrEqual(SMALL.min);
      expect(chunk.length).toBeLessThanOrEqual(SMALL.max);
    }
  });

  it('cut the same content the same way after bytes are inserted before it', async () => {
    const dir = tempDir();
    const data = textBytes(40_000);
    const changed = Buffer.concat([data.subarray(0, 50_000), Buffer.from('an inserted line\n'), data.subarray(50_000)]);
    fs.writeFileSync(path.join(dir, 'a'), data);
    fs.writeFileSync(path.join(dir, 'b'), changed);
    const before = new Set((await chunksOf(path.join(dir, 'a'))).map(hashOf));
    const after = (await chunksOf(path.join(dir, 'b'))).map(hashOf);
    const shared = after.filter((hash) => before.has(hash)).length;
    // Only the chunks around the insertion differ.
    expect(shared).toBeGreaterThanOrEqual(after.length - 3);
  });

  it('end a chunk at each forced cut, so what comes before a changed tail is found again whatever the tail holds', async () => {
    const dir = tempDir();
    const front = textBytes(30_000);
    const tail = (seed: string) => textBytes(3_000, seed);
    fs.writeFileSync(path.join(dir, 'a'), Buffer.concat([front, tail('a')]));
    fs.writeFileSync(path.join(dir, 'b'), Buffer.concat([front, tail('b')]));
    const cut = [front.length];
    const a = await chunksOf(path.join(dir, 'a'), SMALL, cut);
    const b = await chunksOf(path.join(dir, 'b'), SMALL, cut);
    expect(Buffer.concat(a).equals(fs.readFileSync(path.join(dir, 'a')))).toBe(true);
    // Every chunk of the front is shared; only the tail's differ.
    const ends = a.reduce<number[]>((list, chunk) => [...list, (list.at(-1) ?? 0) + chunk.length], []);
    expect(ends).toContain(front.length);
    const frontChunks = ends.indexOf(front.length) + 1;
    expect(frontChunks).toBeGreaterThan(1);
    expect(b.slice(0, frontChunks).map(hashOf)).toEqual(a.slice(0, frontChunks).map(hashOf));
    expect(new Set(a.map(hashOf)).has(hashOf(b[frontChunks]!))).toBe(false);
    // Without the cut, the chunk that holds the end of the front differs as well.
    const plainA = (await chunksOf(path.join(dir, 'a'))).map(hashOf);
    const plainB = (await chunksOf(path.join(dir, 'b'))).map(hashOf);
    expect(plainB.filter((hash) => !plainA.includes(hash)).length).toBeGreaterThan(b.length - frontChunks);
  });

  it('cut only the range asked for, the same way as the whole file up to where it ends', async () => {
    const dir = tempDir();
    const data = textBytes(20_000);
    fs.writeFileSync(path.join(dir, 'f'), data);
    const whole = await chunksOf(path.join(dir, 'f'));
    const end = whole[0]!.length + whole[1]!.length + 1000;
    const front: Buffer[] = [];
    for await (const chunk of fileChunks(path.join(dir, 'f'), SMALL, { end })) front.push(Buffer.from(chunk));
    expect(Buffer.concat(front).equals(data.subarray(0, end))).toBe(true);
    expect(front.slice(0, 2).map(hashOf)).toEqual(whole.slice(0, 2).map(hashOf));
    const back: Buffer[] = [];
    for await (const chunk of fileChunks(path.join(dir, 'f'), TINY, { start: end })) back.push(Buffer.from(chunk));
    expect(Buffer.concat(back).equals(data.subarray(end))).toBe(true);
    for (const chunk of back) expect(chunk.length).toBeLessThanOrEqual(TINY.max);
  });

  it('cut at max where the hash never matches (zeros)', () => {
    expect(findCut(new Uint8Array(SMALL.max * 2), SMALL)).toBe(SMALL.max);
    expect(findCut(new Uint8Array(SMALL.min), SMALL)).toBeUndefined();
  });
});

describe('chunked xz', () => {
  it('writes a valid .xz of the input, and compresses again only the chunks that changed', async () => {
    const dir = tempDir();
    const cacheDir = path.join(dir, 'cache');
    const data = textBytes(40_000);
    fs.writeFileSync(path.join(dir, 'in'), data);
    const first = await compressChunked(path.join(dir, 'in'), path.join(dir, 'out1.xz'), { cacheDir, chunkSizes: SMALL });
    expect(first.reused).toBe(0);
    expect(first.chunks).toBeGreaterThan(8);
    expect(first.inputBytes).toBe(data.length);
    expect(first.outputBytes).toBe(fs.statSync(path.join(dir, 'out1.xz')).size);
    expect(await decompressed(path.join(dir, 'out1.xz'))).toBe(hashOf(data));

    const again = await compressChunked(path.join(dir, 'in'), path.join(dir, 'out2.xz'), { cacheDir, chunkSizes: SMALL });
    expect(again.reused).toBe(again.chunks);
    expect(fs.readFileSync(path.join(dir, 'out2.xz')).equals(fs.readFileSync(path.join(dir, 'out1.xz')))).toBe(true);

    const changed = Buffer.from(data);
    changed.write('CHANGED', 200_000);
    fs.writeFileSync(path.join(dir, 'in'), changed);
    const rebuilt = await compressChunked(path.join(dir, 'in'), path.join(dir, 'out3.xz'), { cacheDir, chunkSizes: SMALL });
    expect(rebuilt.reused).toBe(rebuilt.chunks - 1);
    expect(await decompressed(path.join(dir, 'out3.xz'))).toBe(hashOf(changed));
  });

  it('cuts what comes after the last forced cut finer, and finds every chunk before it in the cache', async () => {
    const dir = tempDir();
    const cacheDir = path.join(dir, 'cache');
    const front = textBytes(30_000);
    const options = { cacheDir, chunkSizes: SMALL, changedChunkSizes: TINY, cuts: [front.length] };
    const build = async (name: string, tail: Buffer) => {
      fs.writeFileSync(path.join(dir, name), Buffer.concat([front, tail]));
      const stats = await compressChunked(path.join(dir, name), path.join(dir, `${name}.xz`), options);
      expect(await decompressed(path.join(dir, `${name}.xz`))).toBe(hashOf(fs.readFileSync(path.join(dir, name))));
      return stats;
    };
    const first = await build('a', textBytes(3_000, 'a'));
    expect(first.changed).toBeGreaterThan(4);
    expect(first.reused).toBe(0);
    const second = await build('b', textBytes(3_000, 'b'));
    expect(second.changed).toBeGreaterThan(4);
    expect(second.chunks).toBeGreaterThan(second.changed);
    expect(second.reused).toBe(second.chunks - second.changed);
  });

  it('gives a tar.xz that tar lists and xz tests', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'tree/etc'), { recursive: true });
    for (let file = 0; file < 40; file++) fs.writeFileSync(path.join(dir, 'tree/etc', `file${file}`), textBytes(500, String(file)));
    await execa('tar', ['-cf', path.join(dir, 'tree.tar'), '-C', path.join(dir, 'tree'), '.']);
    await compressChunked(path.join(dir, 'tree.tar'), path.join(dir, 'tree.tar.xz'), { cacheDir: path.join(dir, 'cache'), chunkSizes: SMALL });
    await execa('xz', ['-t', path.join(dir, 'tree.tar.xz')]);
    expect(String((await execa('tar', ['-tJf', path.join(dir, 'tree.tar.xz')])).stdout).split('\n')).toContain('./etc/file39');
  });

  it('compresses again a cached chunk that is not a whole .xz stream', async () => {
    const dir = tempDir();
    const cacheDir = path.join(dir, 'cache');
    fs.writeFileSync(path.join(dir, 'in'), textBytes(5_000));
    await compressChunked(path.join(dir, 'in'), path.join(dir, 'out.xz'), { cacheDir, chunkSizes: SMALL });
    const [sub] = fs.readdirSync(cacheDir);
    const [name] = fs.readdirSync(path.join(cacheDir, sub!));
    const cached = path.join(cacheDir, sub!, name!);
    fs.truncateSync(cached, 100);
    const again = await compressChunked(path.join(dir, 'in'), path.join(dir, 'out.xz'), { cacheDir, chunkSizes: SMALL });
    expect(again.reused).toBe(again.chunks - 1);
    await execa('xz', ['-t', path.join(dir, 'out.xz')]);
    expect(fs.statSync(cached).size).toBeGreaterThan(100);
  });

  it('runs xz once for a chunk that archives compressed at once share (a pack\'s builds)', async () => {
    const dir = tempDir();
    const cacheDir = path.join(dir, 'cache');
    const data = textBytes(40_000);
    fs.writeFileSync(path.join(dir, 'in'), data);
    const [a, b] = await Promise.all([
      compressChunked(path.join(dir, 'in'), path.join(dir, 'a.xz'), { cacheDir, chunkSizes: SMALL }),
      compressChunked(path.join(dir, 'in'), path.join(dir, 'b.xz'), { cacheDir, chunkSizes: SMALL }),
    ]);
    // Each chunk was made by one of the two and taken by the other (from its run or the cache).
    expect(a.chunks - a.reused + (b.chunks - b.reused)).toBe(a.chunks);
    expect(a.reused + b.reused).toBe(a.chunks);
    expect(fs.readFileSync(path.join(dir, 'a.xz')).equals(fs.readFileSync(path.join(dir, 'b.xz')))).toBe(true);
    expect(await decompressed(path.join(dir, 'b.xz'))).toBe(hashOf(data));
  });

  it('makes a chunk itself when the archive whose xz it waited for is stopped', async () => {
    const dir = tempDir();
    const cacheDir = path.join(dir, 'cache');
    const data = textBytes(40_000);
    fs.writeFileSync(path.join(dir, 'in'), data);
    const controller = new AbortController();
    const stopped = compressChunked(path.join(dir, 'in'), path.join(dir, 'a.xz'), { cacheDir, chunkSizes: SMALL, signal: controller.signal });
    const other = compressChunked(path.join(dir, 'in'), path.join(dir, 'b.xz'), { cacheDir, chunkSizes: SMALL });
    setTimeout(() => controller.abort(new Error('stopped')), 20);
    await expect(stopped).rejects.toThrow('stopped');
    await other;
    expect(await decompressed(path.join(dir, 'b.xz'))).toBe(hashOf(data));
  });

  it('fails with xz\'s error and leaves no temporary chunk', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'in'), textBytes(5_000));
    const controller = new AbortController();
    controller.abort(new Error('stopped'));
    await expect(compressChunked(path.join(dir, 'in'), path.join(dir, 'out.xz'), { cacheDir: path.join(dir, 'cache'), chunkSizes: SMALL, signal: controller.signal })).rejects.toThrow('stopped');
    const left = fs.existsSync(path.join(dir, 'cache')) ? fs.readdirSync(path.join(dir, 'cache'), { recursive: true }).map(String) : [];
    expect(left.filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });
});

describe('chunk cache pruning', () => {
  it('cuts the cache to 3/4 of its limit, least recently used first, and removes stale temporary files, nothing else', async () => {
    const dir = tempDir();
    const now = Date.now();
    fs.mkdirSync(path.join(dir, 'ab'));
    fs.mkdirSync(path.join(dir, 'cd'));
    const put = (name: string, ageMs: number): string => {
      const file = path.join(dir, name);
      fs.writeFileSync(file, Buffer.alloc(1000));
      const time = new Date(now - ageMs);
      fs.utimesSync(file, time, time);
      return file;
    };
    const oldest = put('ab/1.xz', 5000);
    const older = put('cd/2.xz', 4000);
    const newer = put('ab/3.xz', 3000);
    const newest = put('cd/4.xz', 1000);
    const staleTemp = put('ab/5.xz.1-x.tmp', 2 * 3_600_000);
    const liveTemp = put('cd/6.xz.2-y.tmp', 1000);
    const stray = put('notes.txt', 9000);
    await pruneChunkCache(dir, 3500, now);
    expect([oldest, older, newer, newest, staleTemp, liveTemp, stray].map((file) => fs.existsSync(file))).toEqual([false, false, true, true, false, true, true]);
    await pruneChunkCache(dir, 3500, now);
    expect(fs.existsSync(newer)).toBe(true);
  });
});
