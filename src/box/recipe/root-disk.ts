import fs from 'node:fs/promises';
import { runTool } from './run-tool.js';

const MiB = 1024 * 1024;

/**
 * The ext4 size for a tree using `usedBytes`: the tree plus a quarter for file system
 * metadata and block slack, plus `freeMiB` for the box's own writes. Pure. In bytes,
 * a whole number of MiB.
 */
export function rootFsSize(usedBytes: number, freeMiB: number): number {
  return Math.ceil((usedBytes * 1.25) / MiB + 64 + freeMiB) * MiB;
}

/** Bytes the tree occupies on disk (du, so hard links and sparse files count once, as ext4 will store them). */
export async function treeUsage(tree: string, signal?: AbortSignal): Promise<number> {
  const { stdout } = await runTool('du', ['-s', '-B1', '-x', tree], signal ? { signal } : {});
  const bytes = Number(String(stdout).split(/\s/)[0]);
  if (!Number.isFinite(bytes) || bytes <= 0) throw new Error(`internal: cannot read du's output: ${String(stdout)}`);
  return bytes;
}

/**
 * Makes the box's root disk from `tree` without mounting anything: mkfs.ext4 -d copies the
 * tree into a sparse raw image, qemu-img packs it into a compressed qcow2 (zstd: faster
 * than zlib both here and for QEMU reading it at every boot).
 */
export async function buildRootDisk(
  tree: string,
  output: string,
  options: { freeMiB: number; label?: string; signal?: AbortSignal; onLine?: (line: string) => void },
): Promise<{ fsBytes: number }> {
  const signal = options.signal ? { signal: options.signal } : {};
  const fsBytes = rootFsSize(await treeUsage(tree, options.signal), options.freeMiB);
  const raw = `${output}.${process.pid}.raw`;
  const partial = `${output}.${process.pid}.part`;
  try {
    const handle = await fs.open(raw, 'w');
    await handle.truncate(fsBytes);
    await handle.close();
    options.onLine?.(`mkfs.ext4 (${Math.round(fsBytes / MiB)} MiB)`);
    // -m 0: no blocks reserved for root, the box is root's alone. -E root_owner: / belongs to root whoever runs this.
    await runTool('mkfs.ext4', ['-q', '-F', '-L', options.label ?? 'kiwi-root', '-m', '0', '-E', 'root_owner=0:0', '-d', tree, raw], signal);
    options.onLine?.('qemu-img convert (compressed qcow2)');
    await runTool('qemu-img', ['convert', '-q', '-c', '-f', 'raw', '-O', 'qcow2', '-o', 'compression_type=zstd', raw, partial], signal);
    await fs.rename(partial, output);
  } finally {
    await fs.rm(raw, { force: true });
    await fs.rm(partial, { force: true });
  }
  return { fsBytes };
}
