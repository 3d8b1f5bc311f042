import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describeForeignExec, ensureForeignExec, HOST_BINFMT } from '../common/binfmt.js';
import { EnvironmentError, UsageError } from '../common/errors.js';
import { isAlive, processIdentity } from '../common/process-identity.js';
import { secondsSince } from '../common/units.js';
import type { BuildEvent, RuntimeEventHandler } from '../protocol/events.js';
import type { ResourceLimits } from '../runtime/spec.js';
import { BuildLog } from './build-log.js';
import type { ImageModel } from './description/model.js';
import { compressImage, describeCompression, removeUncompressedImage } from './outputs/compress-image.js';
import { compressedName, resultNames } from './outputs/naming.js';
import { CONTAINER_EXCLUDES, ROOT_EXCLUDES } from './outputs/root-tar.js';
import { diskFirmware, writeDiskImage } from './outputs/disk-image.js';
import { checkDiskTools } from './outputs/disk-tools.js';
import { grubTerminals } from './outputs/grub-config.js';
import { writeContainerArchive } from './outputs/oci-archive.js';
import { dpkgQueryArgv, formatPackageList } from './outputs/packages-list.js';
import { kiwiResultJson, type KiwiResultJson } from './outputs/result-file.js';
import { createTargetDir } from './outputs/target-dir.js';
import { changedEntriesOffset, treeExportArgv, type TreeExportFiles } from './outputs/tree-export.js';
import { removeTempFiles, tempNameFor, writeFileAtomic } from './outputs/write-atomic.js';
import { buildCachePaths, buildDirPaths, type BuildCachePaths } from './paths.js';
import { ensureBootstrapLayer } from './steps/bootstrap.js';
import { prepareImageRoot } from './steps/image-root.js';
import { runLogged } from './steps/run-logged.js';
import { runStep } from './steps/run-step.js';

export interface BuildOptions {
  model: ImageModel;
  /** --target-dir, absolute. */
  targetDir: string;
  /** The build cache root (paths.ts). */
  cacheRoot: string;
  emit: RuntimeEventHandler;
  /** xz here (default), or deferred: the image is left a .tar for the host (a build in a box, where xz is emulated). */
  compression?: 'xz' | 'deferred';
  /** On a failed step, keep the root tree as it was at cache/failed-root (kiwi boxbuild --box-debug). */
  keepFailedRoot?: boolean;
  /** cgroup limits of the build's container (kiwi batch --pack: its share of the box). */
  limits?: ResourceLimits;
  signal?: AbortSignal;
}

/** What `kiwi build --json` prints: the result files (absolute) and what the build did. */
export type BuildResult = BuildEvent;

/**
 * `kiwi build`'s use case for a loaded model: bootstrap layer (cached), the root tree in
 * containers over it and the packages layer (image-root.ts), then the outputs into the
 * target dir. The build tree lives in the cache's builds/ directory and is removed on
 * every way out; the target dir only ever gets the result files (written through
 * temporary names) and build/image-root.log.
 */
export async function buildImage(options: BuildOptions): Promise<BuildResult> {
  const { model, targetDir, signal } = options;
  const compression = options.compression ?? 'xz';
  checkBuildable(model);
  if (process.getuid?.() !== 0) {
    throw new EnvironmentError('kiwi build runs natively as root only (mmdebstrap, overlayfs and chown need it)', { hint: 'run it as root, or use kiwi boxbuild' });
  }
  // Before the bootstrap: a missing mke2fs or GRUB should cost milliseconds, not a build.
  if (model.type.image === 'oem') checkDiskTools(diskFirmware(model.type));
  const started = Date.now();
  // Archives are written as .tar and compressed last (compress-image.ts), here or by the host.
  const names = resultNames(model, false);
  createTargetDir(targetDir);
  // What a killed earlier build of this image left half-written (its own cleanup never ran).
  const results = [names.image, compressedName(names.image), names.packages, names.result].map((name) => path.join(targetDir, name));
  removeTempFiles(results, (writer) => !isAlive(writer));
  if (compression === 'xz') removeUncompressedImage(targetDir, names);
  const log = new BuildLog(path.join(targetDir, names.log), options.emit);
  const cache = buildCachePaths(options.cacheRoot);
  const build = createBuildDir(cache);
  const image = path.join(targetDir, names.image);
  const packagesFile = path.join(targetDir, names.packages);
  const exported = treeExport(model, build.dir, image);
  let release = async (): Promise<void> => {};
  try {
    log.emit({ type: 'log', level: 'info', message: `building ${model.name} ${model.preferences.version} (${model.type.image}, ${model.arch}) from ${model.descriptionFile}` });
    const emulation = describeForeignExec(model.arch, await ensureForeignExec(model.arch, HOST_BINFMT, signal));
    if (emulation) log.emit({ type: 'log', level: 'info', message: emulation });
    const layer = await runStep(log, 'bootstrap', `bootstrap layer (${model.packages.bootstrap.length} packages, mmdebstrap)`, async () => {
      const found = await ensureBootstrapLayer(model, cache, log, signal);
      log.emit({ type: 'log', level: 'info', message: `bootstrap layer ${found.key}: ${found.status}`, step: 'bootstrap' });
      return found;
    });
    release = layer.release;
    const root = await prepareImageRoot({
      model,
      cache,
      build,
      bootstrap: layer,
      log,
      ...(exported ? { export: { argv: exported.argv, step: exported.step } } : {}),
      ...(options.keepFailedRoot ? { keepFailedRoot: true } : {}),
      ...(options.limits ? { limits: options.limits } : {}),
      ...(signal ? { signal } : {}),
    });
    release = async () => {
      await root.release();
      await layer.release();
    };
    const peakMemoryBytes = root.peakMemoryBytes;
    let container: { references: string[]; digest: string; layerOffset?: number } | undefined;
    // Where the compression cuts a chunk: before the entries this build changed (and before the layer in a container archive).
    let chunkCuts: number[] = [];
    if (!exported) {
      scrubRoot(build.root);
      await runStep(log, 'packages-list', names.packages, async () => {
        const output = await runLogged(dpkgQueryArgv(build.root), { log, step: 'packages-list', captureStdout: true, ...(signal ? { signal } : {}) });
        writeFileAtomic(packagesFile, formatPackageList(output));
      });
      await runStep(log, 'disk', `${names.image} (${diskFirmware(model.type)} disk, GRUB)`, () =>
        writeDiskImage({ type: model.type, title: model.displayName, rootDir: build.root, workDir: build.dir, file: image, log, ...(signal ? { signal } : {}) }),
      );
    } else {
      writeFileAtomic(packagesFile, formatPackageList(fs.readFileSync(exported.files.packages, 'utf8')));
      const changedAt = changedEntriesOffset(fs.readFileSync(`${exported.files.scratch}.index`, 'utf8'));
      const kind = model.type.image;
      if (kind === 'tbz') {
        fs.renameSync(exported.files.archive, image);
        chunkCuts = changedAt === undefined ? [] : [changedAt];
      } else if (kind === 'oci' || kind === 'docker') {
        const containerConfig = model.type.containerConfig;
        if (!containerConfig) throw new UsageError(`type ${kind} has no container configuration`);
        container = await runStep(log, 'container', `${names.image} (${kind} archive)`, () =>
          writeContainerArchive({ kind, layerFile: exported.files.archive, workDir: build.dir, container: containerConfig, debianArch: model.debianArch, file: image, log, ...(signal ? { signal } : {}) }),
        );
        const { layerOffset } = container;
        if (layerOffset !== undefined) chunkCuts = [layerOffset, ...(changedAt === undefined ? [] : [layerOffset + changedAt])];
      }
    }
    // A raw disk is never compressed: it stays sparse and bootable as it is.
    const compressPending = model.type.image !== 'oem';
    const seconds = secondsSince(started);
    const buildInfo: KiwiResultJson['build'] = { bootstrapLayer: layer.key, bootstrap: layer.status, seconds, ...(container ? { references: container.references, digest: container.digest } : {}) };
    writeFileAtomic(path.join(targetDir, names.result), `${JSON.stringify(kiwiResultJson(model, { image, packages: packagesFile }, buildInfo, compressPending), null, 2)}\n`);
    const built: BuildResult = {
      type: 'build',
      image,
      packages: packagesFile,
      result: path.join(targetDir, names.result),
      log: log.file,
      sizeBytes: fs.statSync(image).size,
      seconds,
      bootstrap: layer.status,
      peakMemoryBytes,
      ...(container ? { references: container.references } : {}),
      ...(compressPending ? { compressionDeferred: true } : {}),
      ...(chunkCuts.length > 0 ? { chunkCuts } : {}),
    };
    if (!compressPending || compression === 'deferred') return built;
    const compressed = await runStep(log, 'compress', `${compressedName(names.image)} (xz)`, async () => {
      const { event, stats } = await compressImage(built, cache.xzChunks, signal);
      log.emit({ type: 'log', level: 'info', message: `xz: ${describeCompression(stats)}`, step: 'compress' });
      return event;
    }).catch((error: unknown) => {
      removeUncompressedImage(targetDir, names);
      throw error;
    });
    return { ...compressed, seconds: secondsSince(started) };
  } finally {
    await release();
    if (exported) fs.rmSync(exported.files.archive, { force: true });
    fs.rmSync(build.dir, { recursive: true, force: true });
    log.close();
  }
}

/**
 * tbz, oci and docker are archives of the tree: the runtime writes them from the
 * container's merged tree (tree-export.ts), with no copy of the tree first. A disk (oem)
 * needs the tree itself: undefined.
 */
function treeExport(model: ImageModel, buildDir: string, image: string): { files: TreeExportFiles; argv: string[]; step: { id: string; message: string } } | undefined {
  const kind = model.type.image;
  if (kind === 'oem') return undefined;
  // The tbz goes beside its final name, to be renamed; a layer into the build dir, to be wrapped.
  const files = { packages: path.join(buildDir, 'packages.dpkg'), archive: kind === 'tbz' ? tempNameFor(image) : path.join(buildDir, 'layer.tar'), scratch: path.join(buildDir, 'export') };
  if (kind === 'tbz') return { files, argv: treeExportArgv(files, ROOT_EXCLUDES), step: { id: 'archive', message: `${path.basename(image)} (tar)` } };
  return { files, argv: treeExportArgv(files, CONTAINER_EXCLUDES), step: { id: 'layer', message: 'the root tree as the image layer (tar)' } };
}

/** What this version cannot build, as a usage error before anything runs (also checked on the host before a box boots). */
export function checkBuildable(model: ImageModel): void {
  const { type } = model;
  if (type.image !== 'oem') return;
  if (model.arch !== 'x86_64') {
    throw new UsageError(`type oem (bootable disk) at ${type.xmlPath} is built for x86_64 only by this version of kiwi, not ${model.arch}`, { hint: 'build tbz, oci or docker for this arch (--type)' });
  }
  if (type.filesystem === 'xfs') {
    throw new UsageError(`filesystem="xfs" at ${type.xmlPath} is not built by this version of kiwi (the root file system is made from the tree by mke2fs)`, { hint: 'use filesystem="ext4"' });
  }
  const bootloader = type.bootloader;
  const unsupported = [...grubTerminals(bootloader?.outputConsole).unsupported, ...grubTerminals(bootloader?.inputConsole).unsupported];
  if (bootloader && unsupported.length > 0) {
    throw new UsageError(`<bootloader> console "${unsupported.join(' ')}" is not supported at ${bootloader.xmlPath}: kiwi sets up GRUB's console and serial terminals`, {
      hint: 'use output_console="serial", "console" or "serial console"',
    });
  }
}

/** A new build directory with its owner written first, after removing those of dead builds. */
function createBuildDir(cache: BuildCachePaths): ReturnType<typeof buildDirPaths> {
  fs.mkdirSync(cache.buildsDir, { recursive: true });
  for (const id of fs.readdirSync(cache.buildsDir)) {
    const stale = buildDirPaths(cache, id);
    let owner = '';
    try {
      owner = fs.readFileSync(stale.owner, 'utf8').trim();
    } catch {
      // No owner file: a build killed before it wrote one, or a stray directory.
    }
    if (!isAlive(owner)) fs.rmSync(stale.dir, { recursive: true, force: true });
  }
  const build = buildDirPaths(cache, randomBytes(6).toString('hex'));
  fs.mkdirSync(build.dir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(build.owner, processIdentity() ?? String(process.pid));
  return build;
}

/**
 * What must never be in an image even if a script put it back: downloaded packages, apt
 * lists, kiwi's script environment (the container's clean step removes them; this is the
 * check on the committed tree).
 */
function scrubRoot(root: string): void {
  const emptyDir = (dir: string, keep: (name: string) => boolean) => {
    const at = path.join(root, dir);
    if (!fs.existsSync(at)) return;
    for (const name of fs.readdirSync(at)) if (!keep(name)) fs.rmSync(path.join(at, name), { recursive: true, force: true });
  };
  emptyDir('var/cache/apt/archives', (name) => name === 'partial' || name === 'lock');
  emptyDir('var/lib/apt/lists', (name) => name === 'partial' || name === 'lock');
  for (const file of ['.profile', '.kconfig', 'image']) fs.rmSync(path.join(root, file), { recursive: true, force: true });
}
