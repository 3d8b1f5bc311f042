import type { Arch } from '../../common/arch.js';
import { withoutZeroTails } from './elf-zero-tail.js';
import { BoxBuildError, runTool } from './run-tool.js';

/**
 * Gets the bootable uncompressed kernel out of a distribution's vmlinuz.
 *
 * x86_64: a bzImage carries the ELF vmlinux compressed; booting that ELF through its PVH
 * entry (with qboot) skips the in-guest decompression, which under TCG costs seconds
 * (measured here: about half of a TCG boot). aarch64: Debian ships Image.gz; QEMU would
 * gunzip it itself, but doing it once at build time keeps every boot from doing it.
 */

interface Compression {
  name: string;
  magic: Buffer;
  /** Tool and arguments that decompress stdin to stdout. */
  command: [string, string[]];
}

const COMPRESSIONS: Compression[] = [
  { name: 'gzip', magic: Buffer.from([0x1f, 0x8b, 0x08]), command: ['gzip', ['-dc']] },
  { name: 'xz', magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), command: ['xz', ['-dc']] },
  { name: 'zstd', magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), command: ['zstd', ['-dcq']] },
  { name: 'bzip2', magic: Buffer.from('BZh'), command: ['bzip2', ['-dc']] },
  { name: 'lzma', magic: Buffer.from([0x5d, 0x00, 0x00]), command: ['xz', ['--format=lzma', '-dc']] },
  { name: 'lzo', magic: Buffer.from([0x89, 0x4c, 0x5a, 0x4f]), command: ['lzop', ['-dc']] },
  { name: 'lz4', magic: Buffer.from([0x02, 0x21, 0x4c, 0x18]), command: ['lz4', ['-dc']] },
];

export interface CompressedPayload {
  compression: Compression;
  /** The compressed stream alone. */
  data: Buffer;
  /** Uncompressed size the image records, when it records one (bytes). */
  expectedSize?: number;
}

export interface ExtractedKernel {
  format: 'elf' | 'arm64-image';
  /** The compression the image used, or "none". */
  compression: string;
  bytes: Buffer;
}

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
const ARM64_MAGIC = Buffer.from('ARM\x64', 'latin1');

/**
 * Finds the compressed kernel inside `image`. Pure. For a bzImage the boot protocol header
 * (2.08+) says where the payload is; the build appends the uncompressed size as 4 bytes.
 */
export function locatePayload(image: Buffer, arch: Arch): CompressedPayload {
  if (arch === 'aarch64') {
    const compression = identify(image);
    if (!compression) throw badKernel('an aarch64 kernel that is neither an Image nor compressed in a known format');
    return { compression, data: image };
  }
  if (image.length < 0x250 || image.toString('latin1', 0x202, 0x206) !== 'HdrS') throw badKernel('not a bzImage (no "HdrS" boot header)');
  const protocol = image.readUInt16LE(0x206);
  if (protocol < 0x208) throw badKernel(`boot protocol ${protocol.toString(16)} is older than 2.08 (no payload fields)`);
  const setupSectors = image.readUInt8(0x1f1) || 4;
  const start = (setupSectors + 1) * 512 + image.readUInt32LE(0x248);
  const length = image.readUInt32LE(0x24c);
  if (length < 8 || start + length > image.length) throw badKernel('its payload fields point outside the file');
  const payload = image.subarray(start, start + length);
  const compression = identify(payload);
  if (!compression) throw badKernel(`unknown payload compression (first bytes ${payload.subarray(0, 6).toString('hex')})`);
  return { compression, data: payload.subarray(0, length - 4), expectedSize: payload.readUInt32LE(length - 4) };
}

/** The uncompressed kernel QEMU boots directly, checked to be what the architecture needs. */
export async function extractKernel(image: Buffer, arch: Arch, signal?: AbortSignal): Promise<ExtractedKernel> {
  if (arch === 'aarch64' && isArm64Image(image)) return { format: 'arm64-image', compression: 'none', bytes: image };
  const payload = locatePayload(image, arch);
  const [tool, args] = payload.compression.command;
  const { stdout } = await runTool(tool, args, { input: payload.data, binary: true, ...(signal ? { signal } : {}) });
  const bytes = stdout as Buffer;
  if (payload.expectedSize !== undefined && bytes.length !== payload.expectedSize) {
    throw badKernel(`decompressed ${bytes.length} bytes, the image records ${payload.expectedSize}`);
  }
  if (arch === 'x86_64') {
    if (!bytes.subarray(0, 4).equals(ELF_MAGIC)) throw badKernel('the decompressed payload is not an ELF file');
    try {
      return { format: 'elf', compression: payload.compression.name, bytes: withoutZeroTails(bytes) };
    } catch (error) {
      throw badKernel(`its ELF file is malformed: ${(error as Error).message}`);
    }
  }
  if (!isArm64Image(bytes)) throw badKernel('the decompressed kernel has no arm64 Image header');
  return { format: 'arm64-image', compression: payload.compression.name, bytes };
}

function identify(data: Buffer): Compression | undefined {
  return COMPRESSIONS.find((c) => data.subarray(0, c.magic.length).equals(c.magic));
}

function isArm64Image(data: Buffer): boolean {
  return data.length >= 64 && data.subarray(0x38, 0x3c).equals(ARM64_MAGIC);
}

function badKernel(why: string): BoxBuildError {
  return new BoxBuildError(`cannot extract the kernel: ${why}`, {
    hint: "the box recipe's kernel package ships a kernel kiwi cannot boot directly; use Debian's linux-image-amd64 / linux-image-arm64",
  });
}
