import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ArchRecipe } from './recipe.js';

/**
 * Cache keys of the box build's stages: each is the sha256 of exactly the inputs that
 * stage's output depends on, so a rebuild redoes only what a recipe change reaches.
 * Bump a stage's revision when kiwi's code for that stage changes what it produces.
 */
const REVISION = { rootfs: 1, kernel: 2, initrd: 4, disk: 2, box: 1 };

export interface StageKeys {
  /** mmdebstrap's tarball: suite, sources, architecture, packages, dpkg filters. */
  rootfs: string;
  /** The extracted vmlinux: the root tarball it comes from. */
  kernel: string;
  /** The initramfs: root tarball, module list, /init script. */
  initrd: string;
  /** The root disk: root tarball, Node.js, the recipe's overlay files, free space. */
  disk: string;
  /** The whole box: all of the above and the manifest's own values. */
  box: string;
}

/** Digests of the recipe's files that feed the keys (see recipeFileDigests). */
export interface RecipeFileDigests {
  initramfsInit: string;
  overlay: string;
}

/** Pure. */
export function stageKeys(recipe: ArchRecipe, files: RecipeFileDigests): StageKeys {
  const rootfs = digest({
    revision: REVISION.rootfs,
    suite: recipe.suite,
    variant: recipe.variant,
    sources: recipe.sources,
    debianArch: recipe.debianArch,
    packages: recipe.packages,
    dpkgExclude: recipe.dpkgExclude,
    dpkgInclude: recipe.dpkgInclude,
  });
  const kernel = digest({ revision: REVISION.kernel, arch: recipe.arch, rootfs });
  const initrd = digest({ revision: REVISION.initrd, rootfs, modules: recipe.modules, init: files.initramfsInit });
  const disk = digest({ revision: REVISION.disk, rootfs, node: recipe.node, overlay: files.overlay, freeMiB: recipe.diskFreeMiB });
  const box = digest({
    revision: REVISION.box,
    name: recipe.name,
    version: recipe.version,
    arch: recipe.arch,
    kernel,
    initrd,
    disk,
    cmdline: recipe.cmdline,
    memoryMiB: recipe.memoryMiB,
    cpus: recipe.cpus,
    shares: recipe.shares,
  });
  return { rootfs, kernel, initrd, disk, box };
}

/** The manifest version of a box built with these keys: "<recipe version>+<12 hex>". Pure. */
export function boxVersion(recipe: ArchRecipe, keys: StageKeys): string {
  return `${recipe.version}+${keys.box.slice(0, 12)}`;
}

export async function recipeFileDigests(recipe: ArchRecipe): Promise<RecipeFileDigests> {
  return {
    initramfsInit: createHash('sha256').update(await fs.readFile(recipe.initramfsInit)).digest('hex'),
    overlay: await treeDigest(recipe.overlayDir),
  };
}

/** sha256 over every entry of a folder: relative path, type, executable bit, content or link target. */
export async function treeDigest(dir: string): Promise<string> {
  const hash = createHash('sha256');
  const entries = (await fs.readdir(dir, { recursive: true })).map(String).sort();
  for (const entry of entries) {
    const file = path.join(dir, entry);
    const stat = await fs.lstat(file);
    if (stat.isDirectory()) {
      hash.update(`d ${entry}\0`);
    } else if (stat.isSymbolicLink()) {
      hash.update(`l ${entry} ${await fs.readlink(file)}\0`);
    } else {
      // Only the executable bit: checkouts differ in umask, not in what the box sees as a script.
      hash.update(`f ${entry} ${stat.mode & 0o111 ? 'x' : '-'}\0`);
      hash.update(await fs.readFile(file));
      hash.update('\0');
    }
  }
  return hash.digest('hex');
}

function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}
