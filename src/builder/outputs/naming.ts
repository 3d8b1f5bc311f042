import type { ImageModel } from '../description/model.js';

/**
 * Result file names as KIWI writes them: NAME.ARCH-VERSION plus a suffix
 * (kiwi/builder/archive.py, container.py; containers are xz-compressed by default).
 */
export function imageBaseName(model: Pick<ImageModel, 'name' | 'arch' | 'preferences'>): string {
  return `${model.name}.${model.arch}-${model.preferences.version}`;
}

export interface ResultNames {
  /** The image itself: .tar.xz (tbz), .docker.tar.xz, .oci.tar.xz. */
  image: string;
  /** The package list. */
  packages: string;
  /** kiwi.result.json. */
  result: string;
  /** The build log, relative to the target dir. */
  log: string;
}

export function resultNames(model: Pick<ImageModel, 'name' | 'arch' | 'preferences' | 'type'>): ResultNames {
  const base = imageBaseName(model);
  const suffix: Record<string, string> = { tbz: '.tar.xz', docker: '.docker.tar.xz', oci: '.oci.tar.xz', oem: '.raw' };
  return {
    image: `${base}${suffix[model.type.image] ?? '.tar.xz'}`,
    packages: `${base}.packages`,
    result: 'kiwi.result.json',
    log: 'build/image-root.log',
  };
}
