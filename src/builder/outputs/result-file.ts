import type { ImageModel } from '../description/model.js';

/** One result file as KIWI's kiwi.result lists it. */
export interface ResultFile {
  filename: string;
  use_for_bundle: boolean;
  compress: boolean;
  shasum: boolean;
}

/** kiwi.result.json: what was built and the result files by KIWI's keys (root_archive, container, disk_image, image_packages). */
export interface KiwiResultJson {
  image: { name: string; version: string; arch: string; type: string; profiles: string[]; description: string };
  result_files: Record<string, ResultFile>;
  build: { bootstrapLayer: string; bootstrap: 'cached' | 'built'; seconds: number; references?: string[]; digest?: string };
}

/** KIWI's result key of the image file per type. */
const IMAGE_KEYS: Record<ImageModel['type']['image'], string> = { tbz: 'root_archive', oci: 'container', docker: 'container', oem: 'disk_image' };

/** `compressPending`: the image is an uncompressed .tar that the host compresses next (a build in a box). */
export function kiwiResultJson(
  model: ImageModel,
  files: { image: string; packages: string },
  build: KiwiResultJson['build'],
  compressPending = false,
): KiwiResultJson {
  const imageKey = IMAGE_KEYS[model.type.image];
  return {
    image: { name: model.name, version: model.preferences.version, arch: model.arch, type: model.type.image, profiles: model.profiles, description: model.descriptionFile },
    result_files: {
      [imageKey]: { filename: files.image, use_for_bundle: true, compress: compressPending, shasum: true },
      image_packages: { filename: files.packages, use_for_bundle: true, compress: false, shasum: false },
    },
    build,
  };
}
