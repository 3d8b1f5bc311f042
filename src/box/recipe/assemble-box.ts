import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { manifestSchema, type BoxFile, type BoxManifest } from '../manifest.js';
import { MANIFEST_FILE } from '../paths.js';

export interface BoxPart {
  /** Where the built file is. */
  source: string;
  /** Its name in the box. */
  path: string;
  role: BoxFile['role'];
}

export type ManifestFields = Omit<BoxManifest, 'files'>;

/**
 * Puts a box's files and its box.json into `dir` (an empty folder): files are hard-linked
 * from the build's stage outputs when they share a file system, copied otherwise. The
 * manifest is checked against the schema every consumer uses before it is written.
 */
export async function assembleBox(dir: string, parts: BoxPart[], fields: ManifestFields): Promise<BoxManifest> {
  await fsp.rm(dir, { recursive: true, force: true });
  await fsp.mkdir(dir, { recursive: true });
  const files: BoxFile[] = [];
  for (const part of parts) {
    const target = path.join(dir, part.path);
    await linkOrCopy(part.source, target);
    files.push({ path: part.path, role: part.role, sha256: await sha256File(target), size: (await fsp.stat(target)).size });
  }
  const manifest = manifestSchema.parse({ ...fields, files });
  await fsp.writeFile(path.join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** Copies a box folder (files and box.json) to `target`, replacing what is there, via a temporary folder. */
export async function writeBoxCopy(sourceDir: string, manifest: BoxManifest, target: string): Promise<void> {
  const partial = `${target.replace(/\/+$/, '')}.${process.pid}.part`;
  await fsp.rm(partial, { recursive: true, force: true });
  await fsp.mkdir(partial, { recursive: true });
  try {
    for (const name of [...manifest.files.map((file) => file.path), MANIFEST_FILE]) {
      await fsp.mkdir(path.dirname(path.join(partial, name)), { recursive: true });
      // A copy (a reflink where the file system can): the published files must not share
      // inodes with the cache's verified ones.
      await fsp.copyFile(path.join(sourceDir, name), path.join(partial, name), fs.constants.COPYFILE_FICLONE);
    }
    await fsp.mkdir(target, { recursive: true });
    for (const name of [...manifest.files.map((file) => file.path), MANIFEST_FILE]) {
      await fsp.mkdir(path.dirname(path.join(target, name)), { recursive: true });
      await fsp.rename(path.join(partial, name), path.join(target, name));
    }
  } finally {
    await fsp.rm(partial, { recursive: true, force: true });
  }
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(fs.createReadStream(file), hash);
  return hash.digest('hex');
}

/**
 * A hard link shares the inode: fine for these files, which nothing writes after they are
 * built (VMs write to their own overlays). Across file systems it is a copy.
 */
async function linkOrCopy(source: string, target: string): Promise<void> {
  await fsp.rm(target, { force: true });
  try {
    await fsp.link(source, target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    await fsp.copyFile(source, target);
  }
}
