import { shellQuote } from '../../common/shell-quote.js';
import { dpkgQueryArgv } from './packages-list.js';
import { rootTarArgv } from './root-tar.js';
import { indexedBlock } from './tar-index.js';

/** What a build writes straight from its merged tree: the package list and the tree's tar. */
export interface TreeExportFiles {
  /** dpkg-query's output (packages-list.ts formats it). */
  packages: string;
  /** The tar of the tree. */
  archive: string;
  /** A prefix for the export's scratch files in the build dir: name lists and tar's index (`${scratch}.index`). */
  scratch: string;
}

/** What the container's clean step removes, kept out of the archive even if a script put it back. */
export const BUILD_LEFTOVER_EXCLUDES = ['./var/cache/apt/archives/*.deb', './var/lib/apt/lists/*_*'];

/**
 * The runtime's export command for an archive result (tbz, oci, docker): run in the merged
 * root, mounted read-only, as its working directory, it writes the package list and the
 * tar of the tree, so the tree is read once and never copied to disk first.
 *
 * The archive's order: first the entries of the layers below the build's run (bootstrap and
 * packages, cached), by name; then the root and every entry the run changed or made (its upper
 * layer, $KIWI_EXPORT_UPPER), by name. A warm rebuild differs from the last one only in that
 * tail, so with a chunk cut where it begins (changedEntriesOffset) the compression finds every
 * chunk before it in its cache. A directory the run changed comes after its older contents:
 * tar makes the missing parent when extracting them and applies the directory's own entry to
 * it when that comes.
 */
export function treeExportArgv(files: TreeExportFiles, excludes: readonly string[]): string[] {
  const scratch = (suffix: string): string => shellQuote([`${files.scratch}.${suffix}`]);
  const tar = shellQuote(rootTarArgv('.', [...excludes, ...BUILD_LEFTOVER_EXCLUDES], { names: `${files.scratch}.order`, index: `${files.scratch}.index` }));
  const script = [
    `${shellQuote(dpkgQueryArgv('.'))} > "$1"`,
    'export LC_ALL=C',
    `find . -mindepth 1 -print0 | sort -z > ${scratch('tree')}`,
    `(cd "\${KIWI_EXPORT_UPPER:?is set by the runtime to the upper layer of the run}" && find . -mindepth 1 -print0) | sort -z > ${scratch('changed')}`,
    `{ comm -z -23 ${scratch('tree')} ${scratch('changed')}; printf '.\\0'; comm -z -12 ${scratch('tree')} ${scratch('changed')}; } > ${scratch('order')}`,
    `${tar} > "$2"`,
  ].join('\n');
  return ['bash', '-e', '-o', 'pipefail', '-c', script, 'kiwi-export', files.packages, files.archive];
}

/**
 * Where the entries the build changed begin in its archive: at the root's entry, the first
 * of them (tar's index line "block N: ./"); undefined if the index has no such line.
 */
export function changedEntriesOffset(index: string): number | undefined {
  const block = indexedBlock(index, './');
  return block === undefined ? undefined : block * 512;
}
