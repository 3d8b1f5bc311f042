import type { Repository } from '../description/model.js';

/**
 * apt's one-line sources for the description's repositories. `uriFor` lets a caller
 * point local repositories (dir://, file://, this://) at where they are bound inside a
 * container. Options: [arch=...] for architectures, [trusted=yes] when
 * repository_gpgcheck="false", [signed-by=...] for signing keys.
 */
export function sourceLine(repo: Repository, uri: string = repo.uri, signedBy: string[] = repo.signingKeys): string {
  const options: string[] = [];
  if (repo.architectures.length > 0) options.push(`arch=${repo.architectures.join(',')}`);
  if (repo.repositoryGpgCheck === false) options.push('trusted=yes');
  if (signedBy.length > 0) options.push(`signed-by=${signedBy.map(keyPath).join(',')}`);
  const prefix = options.length > 0 ? `deb [${options.join(' ')}] ` : 'deb ';
  // A flat repository has no suite: apt wants "URI ./" or the path with a trailing slash.
  if (repo.distribution === undefined) return `${prefix}${uri} ./`;
  return `${prefix}${uri} ${repo.distribution} ${repo.components.join(' ')}`;
}

function keyPath(key: string): string {
  return key.startsWith('file://') ? key.slice('file://'.length) : key;
}

/** Where a local repository is bound inside the build container. */
export function containerRepoPath(repo: Repository, index: number): string {
  return `/tmp/kiwi-repos/${index}-${repo.alias}`;
}

/**
 * The sources.list text for the build container: local repositories at their bind paths,
 * through apt's copy: method, which copies their packages into the download cache as if
 * downloaded (file: would use them in place, and the install that reads only the cache
 * would not find them) and their index files into apt's lists.
 */
export function containerSourcesList(repos: readonly Repository[]): string {
  return repos.map((repo, index) => `${sourceLine(repo, repo.localPath ? `copy://${containerRepoPath(repo, index)}` : repo.uri)}\n`).join('');
}

/** The sources.list the image keeps: only repositories with imageinclude="true" (as KIWI does). */
export function imageSourcesList(repos: readonly Repository[]): string {
  return repos.filter((repo) => repo.imageInclude).map((repo) => `${sourceLine(repo)}\n`).join('');
}
