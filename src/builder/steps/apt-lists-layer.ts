import fs from 'node:fs';
import path from 'node:path';
import { BuildFailedError } from '../../common/errors.js';

/** The directories down to apt's lists, each made in the layer as the layers below have it. */
const LISTS_PATH = ['var', 'var/lib', 'var/lib/apt', 'var/lib/apt/lists'];

/**
 * Makes `layerDir`, a read-only layer for the top of a build container's layers that holds
 * nothing but the build's apt index files at var/lib/apt/lists, as hard links to the files
 * in `aptLists`: no copy of Debian's 50 MB Packages file into each container (2 s when cold
 * under emulation), and overlayfs still lets scripts change or remove them in the
 * container's own upper layer. The topmost layer's directory is the one the merged tree
 * shows, so each directory takes the mode, owner and times of the first layer in `below`
 * (top first) that has it, and the image's /var is unchanged.
 */
export function makeAptListsLayer(layerDir: string, aptLists: string, below: readonly string[]): void {
  fs.rmSync(layerDir, { recursive: true, force: true });
  const listsDir = path.join(layerDir, ...LISTS_PATH.at(-1)!.split('/'));
  fs.mkdirSync(listsDir, { recursive: true });
  for (const name of fs.readdirSync(aptLists)) fs.linkSync(path.join(aptLists, name), path.join(listsDir, name));
  // Deepest first: setting a directory's times after its children were made.
  for (const dir of LISTS_PATH.toReversed()) {
    const made = path.join(layerDir, dir);
    const layer = below.find((candidate) => fs.lstatSync(path.join(candidate, dir), { throwIfNoEntry: false }) !== undefined);
    const original = layer === undefined ? undefined : fs.lstatSync(path.join(layer, dir));
    if (original && !original.isDirectory()) {
      throw new BuildFailedError(`/${dir} is not a directory in the layer ${layer}: apt keeps its index files in /var/lib/apt/lists`, { hint: 'leave /var and /var/lib/apt directories in post_bootstrap.sh' });
    }
    if (!original) {
      fs.chmodSync(made, 0o755);
      continue;
    }
    fs.chownSync(made, original.uid, original.gid);
    fs.chmodSync(made, original.mode & 0o7777);
    fs.utimesSync(made, original.atime, original.mtime);
  }
}
