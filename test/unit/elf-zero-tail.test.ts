import { describe, expect, it } from 'vitest';
import { withoutZeroTails } from '../../src/box/recipe/elf-zero-tail.js';

const PHDRS = 64;
const PHENT = 56;

/** A minimal ELF64 LE executable: its program headers at 64, each segment given as [type, file bytes]. */
function elf(segments: [number, Buffer][]): Buffer {
  const dataStart = PHDRS + PHENT * segments.length;
  const parts: Buffer[] = [];
  const header = Buffer.alloc(dataStart);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(header);
  header.writeBigUInt64LE(BigInt(PHDRS), 0x20);
  header.writeUInt16LE(PHENT, 0x36);
  header.writeUInt16LE(segments.length, 0x38);
  let offset = dataStart;
  segments.forEach(([type, bytes], index) => {
    const ph = PHDRS + index * PHENT;
    header.writeUInt32LE(type, ph);
    header.writeBigUInt64LE(BigInt(offset), ph + 8);
    header.writeBigUInt64LE(BigInt(bytes.length), ph + 32);
    header.writeBigUInt64LE(BigInt(bytes.length + 4096), ph + 40);
    parts.push(bytes);
    offset += bytes.length;
  });
  return Buffer.concat([header, ...parts]);
}

const fileSize = (file: Buffer, index: number): number => Number(file.readBigUInt64LE(PHDRS + index * PHENT + 32));
const memSize = (file: Buffer, index: number): number => Number(file.readBigUInt64LE(PHDRS + index * PHENT + 40));

describe('withoutZeroTails', () => {
  it("ends each loadable segment's file data at its last non-zero byte and keeps its memory size", () => {
    const text = Buffer.concat([Buffer.from('code'), Buffer.alloc(100)]);
    const data = Buffer.concat([Buffer.from([0, 7, 0, 9]), Buffer.alloc(5000)]);
    const original = elf([
      [1, text],
      [4, Buffer.alloc(8)], // PT_NOTE: left alone
      [1, data],
      [1, Buffer.alloc(300)],
    ]);
    const patched = withoutZeroTails(original);
    expect([0, 1, 2, 3].map((i) => fileSize(patched, i))).toEqual([4, 8, 4, 0]);
    expect([0, 1, 2, 3].map((i) => memSize(patched, i))).toEqual([0, 1, 2, 3].map((i) => memSize(original, i)));
    expect(patched.length).toBe(original.length);
    expect(fileSize(original, 0)).toBe(104);
  });

  it('refuses what is not a little-endian ELF64 or points outside the file', () => {
    expect(() => withoutZeroTails(Buffer.alloc(64))).toThrow(/not an ELF/);
    const elf32 = elf([[1, Buffer.from('x')]]);
    elf32[4] = 1;
    expect(() => withoutZeroTails(elf32)).toThrow(/64-bit/);
    const cut = elf([[1, Buffer.alloc(64, 1)]]).subarray(0, PHDRS + PHENT + 10);
    expect(() => withoutZeroTails(cut)).toThrow(/segment 0 lies outside/);
  });
});
