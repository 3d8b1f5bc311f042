import os from 'node:os';
import path from 'node:path';

/**
 * Where `kiwi build` keeps its state, under one cache root:
 *
 *   <root>/bootstrap/<key>/root/     a bootstrap layer (mmdebstrap result), read-only once renamed in
 *   <root>/bootstrap/<key>/layer.json what it was made from (BootstrapInputs) and when
 *   <root>/bootstrap/<key>.lock      held while one build makes the layer
 *   <root>/bootstrap/.tmp-<key>-<r>/ a layer being made; renamed to <key> when complete
 *   <root>/packages/<lineage>/<state>/upper/  a packages layer (packages-layer.ts), over its bootstrap layer
 *   <root>/packages/<lineage>/<state>/.in-use/  one empty file per build using it (common/in-use.ts)
 *   <root>/packages/<lineage>.lock   held while one build makes, takes or prunes the lineage's layers
 *   <root>/apt/archives/             downloaded .deb files, shared by every build (bound into the container)
 *   <root>/apt/lists/<key>/          apt's index files of the last build with these sources (apt-lists.ts)
 *   <root>/builds/<id>/              one build: owner, input/ (scripts, /.kconfig), apt-lists/, root/ (the image tree)
 *   <root>/runs/                     the runtime's state of the build containers (their upper layers)
 *   <root>/failed-root/              the last failed build's tree, when the build was asked to keep it
 *   <root>/xz-chunks/                compressed chunks of the images built here (outputs/chunked-xz.ts)
 *
 * <root> is $KIWI_BUILD_CACHE_DIR, else /var/cache/kiwi as root, else the user's cache.
 */
export function buildCacheRoot(env: NodeJS.ProcessEnv = process.env, uid: number = process.getuid?.() ?? 0): string {
  if (env.KIWI_BUILD_CACHE_DIR) return path.resolve(env.KIWI_BUILD_CACHE_DIR);
  if (uid === 0) return '/var/cache/kiwi';
  return path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'kiwi', 'build');
}

export interface BuildCachePaths {
  root: string;
  bootstrapDir: string;
  aptArchives: string;
  aptLists: string;
  packagesDir: string;
  buildsDir: string;
  runsDir: string;
  failedRoot: string;
  xzChunks: string;
}

export function buildCachePaths(root: string): BuildCachePaths {
  return {
    root,
    bootstrapDir: path.join(root, 'bootstrap'),
    aptArchives: path.join(root, 'apt', 'archives'),
    aptLists: path.join(root, 'apt', 'lists'),
    packagesDir: path.join(root, 'packages'),
    buildsDir: path.join(root, 'builds'),
    runsDir: path.join(root, 'runs'),
    failedRoot: path.join(root, 'failed-root'),
    xzChunks: path.join(root, 'xz-chunks'),
  };
}

/** Paths of one bootstrap layer by its key. */
export function bootstrapLayerPaths(cache: BuildCachePaths, key: string): { dir: string; root: string; meta: string; lock: string } {
  const dir = path.join(cache.bootstrapDir, key);
  return { dir, root: path.join(dir, 'root'), meta: path.join(dir, 'layer.json'), lock: `${dir}.lock` };
}

/** Paths of one packages layer by its lineage and repository state. */
export function packagesLayerPaths(cache: BuildCachePaths, lineage: string, state: string): { lineageDir: string; lock: string; dir: string; upper: string; meta: string } {
  const lineageDir = path.join(cache.packagesDir, lineage);
  const dir = path.join(lineageDir, state);
  return { lineageDir, lock: `${lineageDir}.lock`, dir, upper: path.join(dir, 'upper'), meta: path.join(dir, 'layer.json') };
}

/** Paths of one build's directory. */
export function buildDirPaths(cache: BuildCachePaths, id: string): { dir: string; owner: string; input: string; aptLists: string; root: string } {
  const dir = path.join(cache.buildsDir, id);
  return { dir, owner: path.join(dir, 'owner'), input: path.join(dir, 'input'), aptLists: path.join(dir, 'apt-lists'), root: path.join(dir, 'root') };
}
