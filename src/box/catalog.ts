import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ARCHES, type Arch } from '../common/arch.js';
import { UsageError } from '../common/errors.js';
import { formatZodIssues } from '../common/zod-issues.js';

const manifestUrl = z.url({ protocol: /^(https?|file)$/, error: 'must be an http://, https:// or file:// URL' });

const archEntrySchema = z.strictObject({
  /** URL of the box.json for this architecture; absent when the box is only built locally. */
  manifest: manifestUrl.optional(),
});

/** What a box may be called: it names directories of the box cache. */
const BOX_NAME = /^[a-z0-9][a-z0-9._-]*$/;
const BOX_NAME_RULE = 'lower-case letters, digits, ".", "_" and "-", starting with a letter or digit';

/** A box name given on the command line, checked before it names a path in the cache. */
export function checkBoxName(name: string): void {
  if (!BOX_NAME.test(name)) throw new UsageError(`"${name}" is not a box name`, { hint: `box names are ${BOX_NAME_RULE} (kiwi box list shows them)` });
}

const boxEntrySchema = z.strictObject({
  name: z.string().regex(BOX_NAME, { message: BOX_NAME_RULE }),
  description: z.string().optional(),
  arch: z.partialRecord(z.enum(ARCHES), archEntrySchema),
});

/** A bundled boxes/<name>/box.yaml holds one entry. */
const bundledFileSchema = boxEntrySchema;
/** A user catalog file holds a list. */
const userFileSchema = z.strictObject({ boxes: z.array(boxEntrySchema) });

export type BoxEntry = z.infer<typeof boxEntrySchema>;

export interface CatalogBox {
  name: string;
  description: string;
  /** Per architecture, where the manifest comes from (undefined: none published). */
  arches: Partial<Record<Arch, { manifest: string | undefined }>>;
  /** The file each part of the entry came from, for error messages. */
  sources: string[];
}

export type Catalog = Map<string, CatalogBox>;

export const BUNDLED_BOXES_DIR = fileURLToPath(new URL('../../boxes/', import.meta.url));

/** The user catalog file that applies: $KIWI_BOX_CONFIG, ./kiwi-boxes.yaml, ~/.config/kiwi/boxes.yaml. */
export function userCatalogFile(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string | undefined {
  if (env.KIWI_BOX_CONFIG) {
    if (!fs.existsSync(env.KIWI_BOX_CONFIG)) {
      throw new UsageError(`KIWI_BOX_CONFIG names ${env.KIWI_BOX_CONFIG}, which does not exist`, {
        hint: 'point KIWI_BOX_CONFIG at a boxes YAML file or unset it',
      });
    }
    return path.resolve(env.KIWI_BOX_CONFIG);
  }
  const configHome = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), '.config');
  return [path.join(cwd, 'kiwi-boxes.yaml'), path.join(configHome, 'kiwi', 'boxes.yaml')].find((file) =>
    fs.existsSync(file),
  );
}

function readYamlFile<T>(file: string, schema: z.ZodType<T>): T {
  let data: unknown;
  try {
    data = parseYaml(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`cannot read box catalog ${file}: ${(error as Error).message}`, {
      hint: 'fix the YAML syntax of that file',
    });
  }
  const result = schema.safeParse(data);
  if (!result.success) {
    throw new UsageError(`bad box catalog ${file}: ${formatZodIssues(result.error)}`, {
      hint: 'see README.md, "Box catalog", for the form of an entry',
    });
  }
  return result.data;
}

/** Adds `entry` to the catalog; an existing box keeps what the entry does not override. */
export function mergeEntry(catalog: Catalog, entry: BoxEntry, source: string): void {
  const existing = catalog.get(entry.name);
  const arches: CatalogBox['arches'] = { ...existing?.arches };
  for (const arch of ARCHES) {
    const archEntry = entry.arch[arch];
    if (archEntry) arches[arch] = { manifest: archEntry.manifest };
  }
  catalog.set(entry.name, {
    name: entry.name,
    description: entry.description ?? existing?.description ?? '',
    arches,
    sources: [...(existing?.sources ?? []), source],
  });
}

/** Bundled entries first, then the user's file overriding or adding. */
export function loadCatalog(options: { env?: NodeJS.ProcessEnv; cwd?: string; bundledDir?: string } = {}): Catalog {
  const catalog: Catalog = new Map();
  const bundledDir = options.bundledDir ?? BUNDLED_BOXES_DIR;
  const names = fs.existsSync(bundledDir) ? fs.readdirSync(bundledDir).sort() : [];
  for (const name of names) {
    const file = path.join(bundledDir, name, 'box.yaml');
    if (fs.existsSync(file)) mergeEntry(catalog, readYamlFile(file, bundledFileSchema), file);
  }
  const userFile = userCatalogFile(options.env, options.cwd);
  if (userFile) {
    for (const entry of readYamlFile(userFile, userFileSchema).boxes) mergeEntry(catalog, entry, userFile);
  }
  return catalog;
}

/** The catalog entry for NAME and ARCH, or a usage error that lists what exists. */
export function resolveBox(catalog: Catalog, name: string, arch: Arch): { box: CatalogBox; manifest: string | undefined } {
  const box = catalog.get(name);
  if (!box) {
    const known = [...catalog.keys()];
    throw new UsageError(`unknown box "${name}"`, {
      hint: known.length ? `boxes in the catalog: ${known.join(', ')}` : 'the catalog is empty; add boxes in kiwi-boxes.yaml',
    });
  }
  const archEntry = box.arches[arch];
  if (!archEntry) {
    throw new UsageError(`box "${name}" has no ${arch} variant`, {
      hint: `it exists for: ${Object.keys(box.arches).join(', ') || 'no architecture'}`,
    });
  }
  return { box, manifest: archEntry.manifest };
}
