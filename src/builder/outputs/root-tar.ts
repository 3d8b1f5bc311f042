/**
 * tar's argv for a root tree: numeric owners, modes, links, all xattrs (security.capability
 * included), names sorted for a stable archive, entries "./...". `excludes` are patterns
 * as tar takes them, e.g. "./tmp/*".
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
    ...excludes.map((pattern) => `--exclude=${pattern}`),
    '.',
  ];
}

/** What KIWI leaves out of every root archive (Defaults.get_exclude_list_for_root_data_sync). */
export const ROOT_EXCLUDES = ['./image', './.kconfig', './.profile', './run/*', './tmp/*', './.buildenv', './var/cache/kiwi'];

/** Containers also leave out the kernel's file systems' contents (kiwi/container/oci.py). */
export const CONTAINER_EXCLUDES = [...ROOT_EXCLUDES, './dev/*', './sys/*', './proc/*'];

/** `bash -c` that pipes argv's output through `xz -T0` into $1, failing if either fails. */
export function xzPipeArgv(argv: readonly string[], output: string): string[] {
  return ['bash', '-o', 'pipefail', '-c', '"${@:2}" | xz -T0 -c > "$1"', 'kiwi-xz', output, ...argv];
}

/** `bash -c` that writes argv's output into $1 as it is. */
export function writeOutputArgv(argv: readonly string[], output: string): string[] {
  return ['bash', '-c', '"${@:2}" > "$1"', 'kiwi-write', output, ...argv];
}

/** How an image archive is written: xz on all cores, or plain tar for the host to compress. */
export type ArchiveCompression = 'xz' | 'deferred';

export function archiveArgv(argv: readonly string[], output: string, compression: ArchiveCompression): string[] {
  return compression === 'xz' ? xzPipeArgv(argv, output) : writeOutputArgv(argv, output);
}
