import fs from 'node:fs/promises';
import path from 'node:path';
import { parseBinfmtLine } from '../../common/binfmt.js';
import { EnvironmentError } from '../../common/errors.js';
import { runTool } from './run-tool.js';

/** Busybox applets the box's own files point at: its PID 1 and the power commands (Debian's come with systemd). */
const BUSYBOX_LINKS = ['usr/lib/kiwi/init', 'usr/sbin/poweroff', 'usr/sbin/reboot', 'usr/sbin/halt'];

/**
 * What never ships in a box: keys the packages generated at install time (every box would
 * share them), the kernel files (they are box files of their own), apt's caches and lists,
 * and install logs. Globs are matched by the shell-free expander below (one "*" per segment).
 */
export const REMOVED_FROM_TREE = [
  'etc/ssh/ssh_host_*',
  'boot/*',
  'var/lib/apt/lists/*_*',
  'var/cache/apt/*.bin',
  'var/cache/apt/archives/*.deb',
  'var/cache/debconf/*-old',
  'var/lib/dpkg/*-old',
  'var/log/apt/*',
  'var/log/dpkg.log',
  'var/log/alternatives.log',
  'etc/machine-id',
];

/** Box builds write root-owned trees and ext4 images with root-owned files. */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new EnvironmentError('kiwi box build needs root (it unpacks a root tree with its owners and makes an ext4 image of it)', {
      hint: 'run it with sudo, or fetch a published box instead (kiwi box fetch)',
    });
  }
}

/** Unpacks the bootstrap tarball into an empty `tree`, keeping owners, modes and devices. */
export async function extractTree(tarball: string, tree: string, signal?: AbortSignal): Promise<void> {
  await fs.rm(tree, { recursive: true, force: true });
  await fs.mkdir(tree, { recursive: true });
  await runTool('tar', ['-xpf', tarball, '-C', tree, '--numeric-owner', '--xattrs', '--xattrs-include=*'], signal ? { signal } : {});
}

/** Turns the bootstrapped tree into the box's root: its files over it, busybox links, nothing private. */
export async function customiseTree(tree: string, overlayDir: string): Promise<void> {
  await fs.cp(overlayDir, tree, { recursive: true, force: true, verbatimSymlinks: true });
  for (const link of BUSYBOX_LINKS) {
    const file = path.join(tree, link);
    if (await exists(file)) {
      // A real poweroff (systemd-sysv) would expect systemd as PID 1; busybox's signals busybox init.
      await fs.rm(file);
    }
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.symlink('/bin/busybox', file);
  }
  await fs.mkdir(path.join(tree, 'root/.ssh'), { recursive: true, mode: 0o700 });
  await fs.writeFile(path.join(tree, BINFMT_FILE), await binfmtEntries(tree));
  await removeMatching(tree, REMOVED_FROM_TREE);
}

/** The binfmt_misc registrations the box init writes at boot, one per line. */
export const BINFMT_FILE = 'usr/lib/kiwi/binfmt.conf';

/**
 * qemu-user-static's binfmt.d entries whose emulator is in the tree (the recipe may keep only
 * some). Resolved here so the box init only copies lines: no exec per entry at boot.
 */
export async function binfmtEntries(tree: string): Promise<string> {
  const dir = path.join(tree, 'usr/lib/binfmt.d');
  const names = (await fs.readdir(dir).catch(() => [] as string[])).filter((name) => /^qemu-.*\.conf$/.test(name)).sort();
  const lines: string[] = [];
  for (const name of names) {
    for (const line of (await fs.readFile(path.join(dir, name), 'utf8')).split('\n')) {
      const interpreter = parseBinfmtLine(line)?.interpreter;
      if (interpreter && (await existsInTree(tree, interpreter))) lines.push(line.trim());
    }
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/** Whether an absolute path exists inside `tree`, following symlinks as the box will see them. */
async function existsInTree(tree: string, absolute: string, depth = 0): Promise<boolean> {
  if (depth > 20) return false;
  const file = path.join(tree, absolute);
  const stat = await fs.lstat(file).catch(() => undefined);
  if (!stat) return false;
  if (!stat.isSymbolicLink()) return true;
  const target = await fs.readlink(file);
  return existsInTree(tree, path.posix.resolve(path.posix.dirname(absolute), target), depth + 1);
}

/** Deletes what matches `patterns` (relative to `tree`); returns the relative paths removed. */
export async function removeMatching(tree: string, patterns: string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const pattern of patterns) {
    for (const match of await expand(tree, pattern.split('/'))) {
      await fs.rm(path.join(tree, match), { recursive: true, force: true });
      removed.push(match);
    }
  }
  return removed.sort();
}

async function expand(tree: string, segments: string[], prefix = ''): Promise<string[]> {
  const [segment, ...rest] = segments;
  if (segment === undefined) return prefix ? [prefix] : [];
  const candidates = segment.includes('*')
    ? (await fs.readdir(path.join(tree, prefix)).catch(() => [] as string[])).filter((name) => globToRegExp(segment).test(name))
    : [segment];
  const results: string[] = [];
  for (const name of candidates.sort()) {
    const next = prefix ? `${prefix}/${name}` : name;
    if (rest.length === 0) {
      if (await exists(path.join(tree, next))) results.push(next);
    } else {
      results.push(...(await expand(tree, rest, next)));
    }
  }
  return results;
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

async function exists(file: string): Promise<boolean> {
  return fs.lstat(file).then(
    () => true,
    () => false,
  );
}
