import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { extractKernel, locatePayload } from '../../src/box/recipe/kernel-extract.js';

/**
 * A small ELF64 vmlinux: its header, one PT_LOAD program header, and the segment: text, then
 * 2000 zero bytes (its .bss), which the extraction leaves out of the segment's file size.
 */
function fakeVmlinux(): Buffer {
  const header = Buffer.alloc(64 + 56);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(header);
  header.writeBigUInt64LE(64n, 0x20);
  header.writeUInt16LE(56, 0x36);
  header.writeUInt16LE(1, 0x38);
  header.writeUInt32LE(1, 64);
  header.writeBigUInt64LE(BigInt(header.length), 64 + 8);
  header.writeBigUInt64LE(4000n, 64 + 32);
  header.writeBigUInt64LE(4000n, 64 + 40);
  return Buffer.concat([header, Buffer.alloc(2000, 7), Buffer.alloc(2000)]);
}
const elf = fakeVmlinux();
/** The program header's p_filesz. */
const segmentFileSize = (file: Buffer): number => Number(file.readBigUInt64LE(64 + 32));
/** Equal but for p_filesz. */
const sameButFileSize = (a: Buffer, b: Buffer): boolean => a.subarray(0, 96).equals(b.subarray(0, 96)) && a.subarray(104).equals(b.subarray(104));

/** A minimal bzImage: 1 setup sector + boot sector, a boot header (protocol 2.15) and the payload with its size trailer. */
function bzImage(compressed: Buffer, uncompressedSize: number, gap = 0x40): Buffer {
  const setupSectors = 1;
  const pmStart = (setupSectors + 1) * 512;
  const trailer = Buffer.alloc(4);
  trailer.writeUInt32LE(uncompressedSize);
  const payload = Buffer.concat([compressed, trailer]);
  const image = Buffer.alloc(pmStart + gap + payload.length + 100);
  image.writeUInt8(setupSectors, 0x1f1);
  image.write('HdrS', 0x202, 'latin1');
  image.writeUInt16LE(0x020f, 0x206);
  image.writeUInt32LE(gap, 0x248);
  image.writeUInt32LE(payload.length, 0x24c);
  payload.copy(image, pmStart + gap);
  return image;
}

const xz = (data: Buffer): Buffer => execFileSync('xz', ['-c', '--check=crc32'], { input: data });

describe('kernel extraction', () => {
  it('finds an xz payload through the bzImage header and strips the size trailer', () => {
    const compressed = xz(elf);
    const payload = locatePayload(bzImage(compressed, elf.length), 'x86_64');
    expect(payload.compression.name).toBe('xz');
    expect(payload.data.equals(compressed)).toBe(true);
    expect(payload.expectedSize).toBe(elf.length);
  });

  it('decompresses an xz bzImage into the ELF vmlinux', async () => {
    const kernel = await extractKernel(bzImage(xz(elf), elf.length), 'x86_64');
    expect(kernel).toMatchObject({ format: 'elf', compression: 'xz' });
    expect(sameButFileSize(kernel.bytes, elf)).toBe(true);
    expect([segmentFileSize(elf), segmentFileSize(kernel.bytes)]).toEqual([4000, 2000]);
  });

  it('decompresses a gzip bzImage too', async () => {
    const kernel = await extractKernel(bzImage(gzipSync(elf), elf.length), 'x86_64');
    expect(kernel).toMatchObject({ format: 'elf', compression: 'gzip' });
    expect(sameButFileSize(kernel.bytes, elf)).toBe(true);
    expect(segmentFileSize(kernel.bytes)).toBe(2000);
  });

  it('refuses a payload that is not an ELF, or whose size differs from the recorded one', async () => {
    const notElf = Buffer.alloc(100, 1);
    await expect(extractKernel(bzImage(gzipSync(notElf), notElf.length), 'x86_64')).rejects.toThrow(/not an ELF/);
    await expect(extractKernel(bzImage(gzipSync(elf), elf.length + 1), 'x86_64')).rejects.toThrow(/records/);
  });

  it('refuses a file without a boot header, naming the problem', () => {
    expect(() => locatePayload(Buffer.alloc(4096), 'x86_64')).toThrow(/not a bzImage/);
    const image = bzImage(Buffer.from('not compressed at all'), 10);
    expect(() => locatePayload(image, 'x86_64')).toThrow(/unknown payload compression/);
  });

  it('gunzips an aarch64 Image.gz and checks the arm64 Image magic; passes a plain Image through', async () => {
    const image = Buffer.alloc(4096);
    image.write('ARM\x64', 0x38, 'latin1');
    const fromGzip = await extractKernel(gzipSync(image), 'aarch64');
    expect(fromGzip).toMatchObject({ format: 'arm64-image', compression: 'gzip' });
    expect(fromGzip.bytes.equals(image)).toBe(true);
    expect((await extractKernel(image, 'aarch64')).compression).toBe('none');
    await expect(extractKernel(gzipSync(Buffer.alloc(4096)), 'aarch64')).rejects.toThrow(/no arm64 Image header/);
  });

  it('passes Debian bookworm\'s arm64 vmlinuz through: an uncompressed Image with an EFI stub ("MZ" first, the arm64 magic at 0x38)', async () => {
    const image = Buffer.alloc(4096);
    image.write('MZ', 0, 'latin1');
    image.write('ARM\x64', 0x38, 'latin1');
    image.write('PE\0\0', 0x40, 'latin1');
    const kernel = await extractKernel(image, 'aarch64');
    expect(kernel).toMatchObject({ format: 'arm64-image', compression: 'none' });
    expect(kernel.bytes).toBe(image);
  });
});
