import type { ImageModel } from '../description/model.js';

/**
 * Result file names as KIWI writes them: NAME.ARCH-VERSION plus a suffix
 * (kiwi/builder/archive.py, container.py; containers are xz-compressed by default).
 */
export function imageBaseName(model: Pick<ImageModel, 'name' | 'arch' | 'preferences'>): string {
  return `${model.name}.${model.arch}-${model.preferences.version}`;
}

export interface ResultNames {
  /** The image itself: .tar.xz (tbz), .docker.tar.xz, .oci.tar.xz, .raw (oem). */
  image: string;
  /** The package list. */
  packages: string;
  /** kiwi.result.json. */
  result: string;
  /** The build log, relative to the target dir. */
  log: string;
}

/**
 * `compressed: false` names the image before its xz step (`.tar`, `.oci.tar`): what a build
 * in a box writes when the host does the compression (compressedName gives the final name).
 */
export function resultNames(model: Pick<ImageModel, 'name' | 'arch' | 'preferences' | 'type'>, compressed = true): ResultNames {
  const base = imageBaseName(model);
  const suffix: Record<string, string> = { tbz: '.tar', docker: '.docker.tar', oci: '.oci.tar', oem: '.raw' };
  const image = `${base}${suffix[model.type.image] ?? '.tar'}`;
  return {
    image: compressed ? compressedName(image) : image,
    packages: `${base}.packages`,
    result: 'kiwi.result.json',
    log: 'build/image-root.log',
  };
}

/** The name of an image file once xz-compressed (a raw disk is not). */
export function compressedName(image: string): string {
  return image.endsWith('.tar') ? `${image}.xz` : image;
}
