import { tarIndexOptions } from './tar-index.js';

/** Where tar reads an archive's entry names and writes where each entry begins. */
export interface TarOrder {
  /** NUL-separated names, "./...", in archive order: tar adds each one alone (no recursion). */
  names: string;
  /** tar's index of the entries (tar-index.ts). */
  index: string;
}

/**
 * tar's argv for a root tree, written to stdout: numeric owners, modes, links, all xattrs
 * (security.capability included), the entries `order.names` lists. The same tree in the same
 * order gives the same bytes, which the chunk cache of the compression relies on
 * (chunked-xz.ts): no access or change times in the pax headers (--xattrs makes a pax archive,
 * whose headers would carry them; reading a file changes its atime). `excludes` are patterns
 * as tar takes them, e.g. "./tmp/*"; they leave out listed names as they would found ones.
 */
export function rootTarArgv(rootDir: string, excludes: readonly string[], order: TarOrder): string[] {
  return [
    'tar',
    '--create',
    '--file=-',
    // tar writes whole records: 1 MiB writes instead of 10 KiB ones. In a box the archive goes
    // to a share, where each write is a round trip to the host. The last record is padded
    // with zeros, which readers take as the end anyway.
    `--record-size=${RECORD_BYTES}`,
    `--directory=${rootDir}`,
    '--numeric-owner',
    '--xattrs',
    '--xattrs-include=*',
    '--pax-option=delete=atime,delete=ctime',
    ...excludes.map((pattern) => `--exclude=${pattern}`),
    ...tarIndexOptions(order.index),
    '--no-recursion',
    '--null',
    '--verbatim-files-from',
    `--files-from=${order.names}`,
  ];
}

const RECORD_BYTES = 1 << 20;

/** What KIWI leaves out of every root archive (Defaults.get_exclude_list_for_root_data_sync). */
export const ROOT_EXCLUDES = ['./image', './.kconfig', './.profile', './run/*', './tmp/*', './.buildenv', './var/cache/kiwi'];

/** Containers also leave out the kernel's file systems' contents (kiwi/container/oci.py). */
export const CONTAINER_EXCLUDES = [...ROOT_EXCLUDES, './dev/*', './sys/*', './proc/*'];
