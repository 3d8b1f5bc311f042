import fs from 'node:fs';
import path from 'node:path';
import type { Repository } from '../description/model.js';

/** Whether a build can use the saved index files as they are, and why not. */
export type ListsCheck = { current: true } | { current: false; reason: string };

/** How long one repository may take to answer before the update runs instead. */
const FETCH_TIMEOUT_MS = 15_000;

/**
 * Whether `apt-get update` would leave a build's restored index files (apt-lists.ts) as
 * they are: every repository is remote, and the InRelease it serves now is byte for byte
 * the one saved, which apt verified when it fetched it and which names the saved Packages
 * files by their hashes, and it is still valid (Valid-Until). Then the update is skipped:
 * under emulation it costs 14 s, because Debian's mirrors answer If-Modified-Since with
 * the whole file and apt verifies the signatures and re-reads every index file again.
 * Anything else — a local or flat repository, a file not saved, a fetch that fails — says
 * the update must run, which then reports any real problem in apt's words.
 */
export async function savedListsCurrent(repos: readonly Repository[], listsDir: string, options: { now?: Date; signal?: AbortSignal } = {}): Promise<ListsCheck> {
  const checks = await Promise.all(repos.map((repo) => repositoryCurrent(repo, listsDir, options.now ?? new Date(), options.signal)));
  return checks.find((check) => !check.current) ?? { current: true };
}

async function repositoryCurrent(repo: Repository, listsDir: string, now: Date, signal?: AbortSignal): Promise<ListsCheck> {
  const url = inReleaseUrl(repo);
  if (!url) return { current: false, reason: `${repo.alias} is a local or flat repository` };
  let saved: Buffer;
  try {
    // (aptListName throws on a URL apt would name differently, such as one with a bad %xx.)
    saved = fs.readFileSync(path.join(listsDir, aptListName(url)));
  } catch {
    return { current: false, reason: `no saved InRelease of ${repo.alias}` };
  }
  const validUntil = /^Valid-Until: (.+)$/m.exec(saved.toString('latin1'))?.[1];
  if (validUntil !== undefined && !(Date.parse(validUntil) > now.getTime())) return { current: false, reason: `the saved InRelease of ${repo.alias} expired (${validUntil})` };
  const timeout = AbortSignal.timeout(FETCH_TIMEOUT_MS);
  // Node's own fetch: this runs in the box too, where every module added to the uploaded
  // runtime lengthens its start under emulation; got stays the host's downloader.
  const served = await fetch(url, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout })
    .then(async (response) => (response.ok ? Buffer.from(await response.arrayBuffer()) : `HTTP ${response.status}`))
    .catch((error: unknown) => {
      signal?.throwIfAborted();
      return error instanceof Error ? error.message : String(error);
    });
  if (typeof served === 'string') return { current: false, reason: `${url}: ${served}` };
  if (!served.equals(saved)) return { current: false, reason: `${repo.alias} changed (its InRelease differs)` };
  return { current: true };
}

/** Where apt fetches a remote suite's InRelease from; undefined for local and flat repositories. */
export function inReleaseUrl(repo: Repository): string | undefined {
  if (repo.localPath !== undefined || repo.distribution === undefined || !/^https?:\/\//.test(repo.uri)) return undefined;
  return `${repo.uri.replace(/\/+$/, '')}/dists/${repo.distribution}/InRelease`;
}

/**
 * The name apt gives a fetched file in /var/lib/apt/lists (URItoFileName): the URI without
 * its scheme and credentials, some characters quoted as %xx, then "/" turned into "_".
 */
export function aptListName(url: string): string {
  const { host, pathname } = new URL(url);
  const quoted = `${host}${decodeURIComponent(pathname)}`.replace(/[\\|{}[\]<>"^~_=!@#$%&*\s\x7f-\uffff]/g, (char) => `%${char.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return quoted.replaceAll('/', '_');
}
