import type { BuildArgs } from '../builder/build-args.js';
import type { ImageModel } from '../builder/description/model.js';
import type { Catalog } from '../box/catalog.js';
import { hostArch, type Arch } from '../common/arch.js';
import { UsageError } from '../common/errors.js';
import { lastProbedAccel } from '../vm/accel-cache.js';
import type { Accel } from '../vm/vm-spec.js';
import { buildIfUnavailable } from './box-first-use.js';
import { boxArchFor, type CrossChoice, type CrossMethod } from '../schedule/cross-method.js';

export interface BoxBuildCheck {
  args: BuildArgs;
  model: ImageModel;
  /** The architecture of the box that runs the build: the target's, or this host's for --cross binfmt. */
  boxArch: Arch;
  /** How a foreign target arch is built; undefined when the target is the host's arch. */
  cross: CrossMethod | undefined;
}

/**
 * What `kiwi boxbuild` and each build of `kiwi batch` check on the host before any box
 * boots: the build arguments, the description, the target arch against --aarch64/--x86_64,
 * and the box that builds it (built from its recipe first if it is neither cached nor published).
 */
export async function checkBoxBuild(options: {
  box: string;
  /** --arch, --x86_64 or --aarch64: KIWI's way of naming the image's (and box's) arch. */
  requestedArch: Arch | undefined;
  cross: CrossChoice;
  /** --accel: kvm or tcg decide the default cross method; auto asks the last KVM probe. */
  accel: Accel | 'auto';
  buildArgv: string[];
  catalog: Catalog;
  signal: AbortSignal;
}): Promise<BoxBuildCheck> {
  const [{ parseBuildArgs, toLoadOptions }, { loadImageModel }, { checkBuildable }, { checkTargetDir, checkTargetDirFree }, { resolveBox }] = await Promise.all([
    import('../builder/build-args.js'),
    import('../builder/description/load.js'),
    import('../builder/build.js'),
    import('../builder/outputs/target-dir.js'),
    import('../box/catalog.js'),
  ]);
  const args = parseBuildArgs(options.buildArgv, { cwd: process.cwd(), hostArch: options.requestedArch ?? hostArch() });
  if (options.requestedArch && args.targetArch !== options.requestedArch) {
    throw new UsageError(`--${options.requestedArch} and --target-arch ${args.targetArch} disagree`, { hint: 'give the image\'s architecture once: --aarch64, or --target-arch after --' });
  }
  const model = loadImageModel(toLoadOptions(args));
  checkBuildable(model);
  checkTargetDir(args.targetDir);
  checkTargetDirFree(args.targetDir);
  const hostBoxKvm = options.accel === 'auto' ? await lastProbedAccel().then((accel) => (accel === undefined ? undefined : accel === 'kvm')) : options.accel === 'kvm';
  const { boxArch, cross } = boxArchFor(args.targetArch, hostArch(), options.cross, hostBoxKvm);
  const { manifest } = resolveBox(options.catalog, options.box, boxArch);
  await buildIfUnavailable(options.box, boxArch, manifest, options.signal);
  return { args, model, boxArch, cross };
}
