/**
 * Writes the cpio "newc" format (the one the Linux kernel unpacks as an initramfs), so kiwi
 * needs no cpio tool and the archive is the same bytes on every build: inode numbers are
 * assigned in order, owners are root and every mtime is 0.
 */

export type CpioEntry =
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'file'; path: string; data: Buffer; mode?: number }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'chardev'; path: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const TRAILER = 'TRAILER!!!';

/** The archive for `entries`, in the order given (a directory must come before what it holds). */
export function writeCpio(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  const push = (buffer: Buffer): void => {
    parts.push(buffer);
    offset += buffer.length;
  };
  const pad = (): void => {
    if (offset % 4) push(Buffer.alloc(4 - (offset % 4)));
  };
  const seen = new Set<string>();
  entries.forEach((entry, index) => {
    const name = normalisePath(entry.path);
    if (seen.has(name)) throw new Error(`internal: duplicate cpio entry ${name}`);
    seen.add(name);
    const { mode, data, rdev } = describe(entry);
    push(header({ ino: index + 1, mode, nlink: entry.type === 'dir' ? 2 : 1, size: data.length, rdev, nameSize: Buffer.byteLength(name) + 1 }));
    push(Buffer.from(`${name}\0`));
    pad();
    push(data);
    pad();
  });
  push(header({ ino: 0, mode: 0, nlink: 1, size: 0, rdev: [0, 0], nameSize: TRAILER.length + 1 }));
  push(Buffer.from(`${TRAILER}\0`));
  pad();
  return Buffer.concat(parts);
}

function describe(entry: CpioEntry): { mode: number; data: Buffer; rdev: [number, number] } {
  switch (entry.type) {
    case 'dir':
      return { mode: S_IFDIR | (entry.mode ?? 0o755), data: Buffer.alloc(0), rdev: [0, 0] };
    case 'file':
      return { mode: S_IFREG | (entry.mode ?? 0o644), data: entry.data, rdev: [0, 0] };
    case 'symlink':
      return { mode: S_IFLNK | 0o777, data: Buffer.from(entry.target), rdev: [0, 0] };
    case 'chardev':
      return { mode: S_IFCHR | (entry.mode ?? 0o600), data: Buffer.alloc(0), rdev: [entry.major, entry.minor] };
  }
}

/** Names in an initramfs are relative ("init", "bin/sh"): no leading "/", no "." or ".." segments. */
function normalisePath(entryPath: string): string {
  const name = entryPath.replace(/^\/+/, '');
  if (!name || name.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')) {
    throw new Error(`internal: bad cpio path "${entryPath}"`);
  }
  return name;
}

interface Header {
  ino: number;
  mode: number;
  nlink: number;
  size: number;
  rdev: [number, number];
  nameSize: number;
}

/** "070701" then 13 fields of 8 hex digits: 110 bytes. */
function header(h: Header): Buffer {
  const fields = [h.ino, h.mode, 0, 0, h.nlink, 0, h.size, 0, 0, h.rdev[0], h.rdev[1], h.nameSize, 0];
  return Buffer.from(`070701${fields.map((value) => hex8(value)).join('')}`, 'ascii');
}

function hex8(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new Error(`internal: cpio field out of range: ${value}`);
  return value.toString(16).padStart(8, '0');
}
