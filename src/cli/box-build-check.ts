import type { BuildArgs } from '../builder/build-args.js';
import type { ImageModel } from '../builder/description/model.js';
import type { Catalog } from '../box/catalog.js';
import type { Arch } from '../common/arch.js';
import { UsageError } from '../common/errors.js';
import { buildIfUnavailable } from './box-first-use.js';

/**
 * What `kiwi boxbuild` and each build of `kiwi batch` check on the host before any box
 * boots: the build arguments, the description, that the box builds for its own arch, and
 * the box itself (built from its recipe first if it is neither cached nor published).
 */
export async function checkBoxBuild(options: { box: string; arch: Arch; buildArgv: string[]; catalog: Catalog; signal: AbortSignal }): Promise<{ args: BuildArgs; model: ImageModel }> {
  const [{ parseBuildArgs, toLoadOptions }, { loadImageModel }, { checkBuildable }, { resolveBox }] = await Promise.all([
    import('../builder/build-args.js'),
    import('../builder/description/load.js'),
    import('../builder/build.js'),
    import('../box/catalog.js'),
  ]);
  const args = parseBuildArgs(options.buildArgv, { cwd: process.cwd(), hostArch: options.arch });
  if (args.targetArch !== options.arch) {
    throw new UsageError(`--target-arch ${args.targetArch} in a ${options.arch} box: this version builds for the box's own architecture`, {
      hint: `use --${args.targetArch} to build in the ${args.targetArch} box`,
    });
  }
  const model = loadImageModel(toLoadOptions(args));
  checkBuildable(model);
  const { manifest } = resolveBox(options.catalog, options.box, options.arch);
  await buildIfUnavailable(options.box, options.arch, manifest, options.signal);
  return { args, model };
}
