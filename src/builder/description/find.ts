import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EnvironmentError, isErrno, UsageError } from '../../common/errors.js';

/**
 * Finds the description file in `dir` the way KIWI does: `--kiwi-file NAME` if given,
 * else `config.xml`, else `image/config.xml`, else the first `*.kiwi` in sorted order.
 * Returns its absolute path.
 */
export function findDescriptionFile(dir: string, kiwiFile?: string): string {
  const base = resolve(dir);
  if (!isDirectory(base)) {
    throw new UsageError(`description directory ${base} does not exist or is not a directory`, {
      hint: 'pass the directory that holds config.kiwi (or config.xml) to --description',
    });
  }
  if (kiwiFile !== undefined) {
    const file = resolve(base, kiwiFile);
    if (!existsSync(file)) {
      throw new UsageError(`--kiwi-file ${kiwiFile}: ${file} does not exist`, {
        hint: `name a file inside ${base}`,
      });
    }
    return file;
  }
  for (const candidate of ['config.xml', join('image', 'config.xml')]) {
    const file = join(base, candidate);
    if (existsSync(file)) return file;
  }
  const kiwi = readdirSync(base)
    .filter((name) => name.endsWith('.kiwi'))
    .sort()
    .find((name) => !isDirectory(join(base, name)));
  if (kiwi !== undefined) return join(base, kiwi);
  throw new UsageError(
    `no description found in ${base}: looked for config.xml, image/config.xml and *.kiwi`,
    { hint: 'name the description config.kiwi, or pass --kiwi-file NAME' },
  );
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch (error) {
    if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return false;
    // Another failure (EIO, EACCES, a share gone bad) is not "no such directory": say which.
    throw new EnvironmentError(`cannot read the description directory ${path}: ${(error as Error).message}`);
  }
}
