/**
 * tar's argv for a root tree: numeric owners, modes, links, all xattrs (security.capability
 * included), entries "./...". `excludes` are patterns as tar takes them, e.g. "./tmp/*".
 * The same tree gives the same bytes, which the chunk cache of the compression relies on
 * (chunked-xz.ts): names sorted, and no access or change times in the pax headers (--xattrs
 * makes a pax archive, whose headers would carry them; reading a file changes its atime).
 */
export function rootTarArgv(rootDir: string, excludes: readonly string[]): string[] {
  return [
    'tar',
    '--create',
    '--file=-',
    `--directory=${rootDir}`,
    '--numeric-owner',
    '--xattrs',
    '--xattrs-include=*',
    '--sort=name',
    '--pax-option=delete=atime,delete=ctime',
    ...excludes.map((pattern) => `--exclude=${pattern}`),
    '.',
  ];
}

/** What KIWI leaves out of every root archive (Defaults.get_exclude_list_for_root_data_sync). */
export const ROOT_EXCLUDES = ['./image', './.kconfig', './.profile', './run/*', './tmp/*', './.buildenv', './var/cache/kiwi'];

/** Containers also leave out the kernel's file systems' contents (kiwi/container/oci.py). */
export const CONTAINER_EXCLUDES = [...ROOT_EXCLUDES, './dev/*', './sys/*', './proc/*'];
