import fs from 'node:fs';
import path from 'node:path';
import { MIB } from './disk-layout.js';

/** What a root tree needs on an ext2/3/4 file system with 4 KiB blocks. */
export interface TreeUsage {
  /** Data blocks of every file, directory and long symlink, in bytes (hard links counted once). */
  bytes: number;
  /** Inodes: files, directories, links, devices (hard links counted once). */
  inodes: number;
}

const BLOCK = 4096;
const INODE_BYTES = 256;
/** Symlink targets shorter than this live in the inode itself (ext4 "fast" symlinks). */
const FAST_SYMLINK = 60;

/** Walks a root tree (not following links) and adds up what it will take on ext4. */
export function measureTree(root: string): TreeUsage {
  const seen = new Set<string>();
  const usage: TreeUsage = { bytes: 0, inodes: 0 };
  const visit = (file: string): void => {
    const stat = fs.lstatSync(file);
    if (stat.nlink > 1 && !stat.isDirectory()) {
      const key = `${stat.dev}:${stat.ino}`;
      if (seen.has(key)) return;
      seen.add(key);
    }
    usage.inodes += 1;
    if (stat.isFile() || stat.isDirectory() || (stat.isSymbolicLink() && stat.size >= FAST_SYMLINK)) {
      usage.bytes += Math.max(1, Math.ceil(stat.size / BLOCK)) * BLOCK;
    }
    if (stat.isDirectory()) for (const name of fs.readdirSync(file)) visit(path.join(file, name));
  };
  visit(root);
  return usage;
}

export interface RootFilesystemSize {
  /** File system size in bytes, whole MiB. */
  bytes: number;
  /** The fewest inodes it needs (see inodeCount). */
  minInodes: number;
}

/**
 * The root file system's size for a tree: its data, the inode tables, a journal of up to
 * 64 MiB, 10% for ext4's own metadata and the 5% reserved for root, and then free space
 * for the running system (a quarter of the data, at least 256 MiB); in whole MiB. Inodes:
 * half as many again as the tree has.
 */
export function rootFilesystemSize(usage: TreeUsage): RootFilesystemSize {
  const inodesFloor = Math.ceil(usage.inodes * 1.5) + 4096;
  const journal = 64 * MIB;
  const needed = (usage.bytes + inodesFloor * INODE_BYTES + journal) / 0.85;
  const free = Math.max(256 * MIB, usage.bytes / 4);
  const bytes = Math.ceil((needed + free) / MIB) * MIB;
  return { bytes, minInodes: inodesFloor };
}

/** Inodes to create (mke2fs -N) on `bytes`: never fewer than mke2fs's default of one per 16 KiB, so packages installed later find some. */
export function inodeCount(bytes: number, minInodes: number): number {
  return Math.max(minInodes, Math.ceil(bytes / 16384));
}
