import fs from 'node:fs';
import path from 'node:path';

/** The kernel and initrd GRUB boots, as paths inside the root file system. */
export interface BootFiles {
  kernel: string;
  initrd: string;
}

/**
 * Picks the kernel and initrd of a root tree. Debian's kernel packages keep the links
 * /vmlinuz and /initrd.img (or /boot/vmlinuz, /boot/initrd.img with link_in_boot) on the
 * newest kernel: booting through them keeps working after a kernel update in the image.
 * Without links, the newest /boot/vmlinuz-VERSION with its initrd.img-VERSION. Pure:
 * `exists` says whether a path (relative to the root, links followed) is a file, `bootNames`
 * lists /boot. Undefined when there is no kernel with an initrd.
 */
export function chooseBootFiles(exists: (relative: string) => boolean, bootNames: readonly string[]): BootFiles | undefined {
  for (const dir of ['boot/', '']) {
    if (exists(`${dir}vmlinuz`) && exists(`${dir}initrd.img`)) return { kernel: `/${dir}vmlinuz`, initrd: `/${dir}initrd.img` };
  }
  const versions = bootNames
    .filter((name) => name.startsWith('vmlinuz-'))
    .map((name) => name.slice('vmlinuz-'.length))
    .filter((version) => exists(`boot/initrd.img-${version}`))
    .sort((a, b) => b.localeCompare(a, 'en', { numeric: true }));
  const newest = versions[0];
  return newest === undefined ? undefined : { kernel: `/boot/vmlinuz-${newest}`, initrd: `/boot/initrd.img-${newest}` };
}

/** chooseBootFiles on a root tree; links are resolved inside the tree (an absolute target means the tree's root). */
export function findBootFiles(root: string): BootFiles | undefined {
  const exists = (relative: string): boolean => {
    const target = resolveInTree(root, relative);
    return target !== undefined && fs.statSync(target, { throwIfNoEntry: false })?.isFile() === true;
  };
  let bootNames: string[] = [];
  try {
    bootNames = fs.readdirSync(path.join(root, 'boot'));
  } catch {
    // No /boot at all: no kernel.
  }
  return chooseBootFiles(exists, bootNames);
}

/** The host path of `relative` in the tree, following symlinks as the booted system would; undefined when dangling or looping. */
function resolveInTree(root: string, relative: string, depth = 0): string | undefined {
  const inside = path.normalize(relative);
  if (depth > 16 || inside.startsWith('..')) return undefined;
  const full = path.join(root, inside);
  const stat = fs.lstatSync(full, { throwIfNoEntry: false });
  if (!stat) return undefined;
  if (!stat.isSymbolicLink()) return full;
  const target = fs.readlinkSync(full);
  const next = target.startsWith('/') ? target.slice(1) : path.join(path.dirname(inside), target);
  return resolveInTree(root, next, depth + 1);
}
