import { xzChunksDir } from '../box/paths.js';
import { buildArgsToArgv, type BuildArgs } from '../builder/build-args.js';
import type { ImageModel } from '../builder/description/model.js';
import { compressImage, describeCompression } from '../builder/outputs/compress-image.js';
import { resultNames } from '../builder/outputs/naming.js';
import { lockTargetDir } from '../builder/outputs/target-dir.js';
import { buildCachePaths } from '../builder/paths.js';
import { BuildFailedError } from '../common/errors.js';
import type { HeldLock } from '../common/lock.js';
import { shellQuote } from '../common/shell-quote.js';
import { secondsSince } from '../common/units.js';
import type { BuildEvent, RuntimeEvent, RuntimeEventHandler } from '../protocol/events.js';
import { timedStep } from '../protocol/timed-step.js';
import { bootBox, type BootOptions, type RunningBox } from '../vm/boot-box.js';
import { acquireBuildCacheDisk, BOX_BUILD_CACHE_DIR, mountBuildCacheScript, unmountBuildCacheScript } from '../vm/build-cache-disk.js';
import { BOX_NODE, runBoxBuilds, uploadRuntime, withConsoleTail } from './box-runtime-client.js';
import { removeBuildLeftovers } from './finish-image.js';
import { runtimeBundlePath } from './runtime-bundle.js';
import { boxBuildShares } from './same-path-shares.js';

/** Where the in-box runtime keeps a failed build's tree for --box-debug (on the build cache disk). */
const BOX_FAILED_ROOT = buildCachePaths(BOX_BUILD_CACHE_DIR).failedRoot;
/** The box runtime's compiled code, kept on the build cache disk from one boot to the next. */
const BOX_NODE_COMPILE_CACHE = `${BOX_BUILD_CACHE_DIR}/node-compile-cache`;

/** One build for a box: what it builds and where its events go. */
export interface BoxBuild {
  /** The build arguments, checked on the host; paths absolute. */
  args: BuildArgs;
  /** The description loaded on the host (validation before boot, result names). */
  model: ImageModel;
  /** --shared-path directories, absolute. */
  sharedPaths: string[];
  /** Every event of the build: the host's own steps (box, compress) and the box runtime's. */
  emit: RuntimeEventHandler;
  /** memory.max of the build's container: its share of a box it is packed into with others. */
  memoryMaxBytes?: number;
}

/** One or more builds in one VM of a box. */
export interface BoxPackJob {
  /** The box to boot and how; `shares` are the user's own (--share), added to the builds'. */
  boot: Omit<BootOptions, 'dataDisks' | 'signal'>;
  builds: BoxBuild[];
  /** Size of the build cache disk (sparse: it takes only what the builds use). */
  diskSizeBytes: number;
  /**
   * --box-debug: called once the builds have ended, built or failed, while the box still runs
   * with its shares and build cache mounted (a failed build's tree kept at `failedRoot`).
   */
  debugBox?: (box: RunningBox, outcome: { failed: boolean; failedRoot: string }) => Promise<void>;
  signal?: AbortSignal;
}

/** One `kiwi boxbuild`: a pack of one build. */
export type BoxBuildJob = Omit<BoxPackJob, 'builds'> & Omit<BoxBuild, 'memoryMaxBytes'>;

export async function buildInBox(job: BoxBuildJob): Promise<BuildEvent> {
  const { args, model, sharedPaths, emit, ...pack } = job;
  const [outcome] = await buildPackInBox({ ...pack, builds: [{ args, model, sharedPaths, emit }] });
  if (outcome!.status === 'rejected') throw outcome!.reason;
  return outcome!.value;
}

/**
 * Boots the box with every build's description (read-only) and target dir shared at their
 * host paths and the build cache disk attached, uploads the runtime, runs the builds in the
 * box at once (each in its own container and cgroup), powers the box off, then compresses
 * each image on the host. Each build settles on its own: one failing leaves the others be.
 * If the box itself fails (boot, interrupt), every build fails with it. A failed build's
 * target dir keeps only its earlier contents and the build log. Each target dir is held
 * (target-dir.ts) from before its leftovers are cleaned until its image is compressed.
 */
export async function buildPackInBox(job: BoxPackJob): Promise<PromiseSettledResult<BuildEvent>[]> {
  const targetLocks = await lockTargetDirs(job.builds.map((build) => build.args.targetDir));
  try {
    return await runPack(job);
  } finally {
    await Promise.all(targetLocks.map((lock) => lock.release()));
  }
}

async function runPack(job: BoxPackJob): Promise<PromiseSettledResult<BuildEvent>[]> {
  const { builds, signal } = job;
  const started = Date.now();
  const shares = [...boxBuildShares(...builds.map(shareInput)), ...(job.boot.shares ?? [])];
  const names = builds.map((build) => resultNames(build.model, false));
  // What a killed earlier run of each build left half-written (its own cleanup never ran).
  builds.forEach((build, index) => removeBuildLeftovers(build.args.targetDir, names[index]!));
  const emitToAll: RuntimeEventHandler = (event) => builds.forEach((build) => build.emit(event));
  const boxStep = <T>(id: string, message: string, work: () => Promise<T>): Promise<T> => timedStep(emitToAll, id, message, work);
  const disk = await acquireBuildCacheDisk({ cacheRoot: job.boot.cacheRoot, name: job.boot.name, arch: job.boot.arch, sizeBytes: job.diskSizeBytes, ...(signal ? { signal } : {}) });
  let running: RunningBox | undefined;
  // The cache learns from builds that ran to their end (failed or not) with its disk cleanly unmounted.
  let saveCache = false;
  const stopOnAbort = (): void => void running?.shutdown().catch(() => undefined);
  signal?.addEventListener('abort', stopOnAbort, { once: true });
  try {
    const description = builds.length === 1 ? '' : `, ${builds.length} builds`;
    running = await boxStep('box', `booting ${job.boot.name} (${job.boot.arch}, ${job.boot.shareBackend ?? '9p'} shares${description})`, () =>
      bootBox({ ...job.boot, shares, dataDisks: [{ file: disk.file }], ...(signal ? { signal } : {}) }),
    );
    const box = running;
    await boxStep('upload', 'build cache disk and in-box runtime', async () => {
      // Node's 100 MB binary read from the box's disk meanwhile: the runtime is its first
      // start since boot, and a cold read of it is 1 s of emulated kernel work.
      void box.session.exec(`cat ${BOX_NODE} > /dev/null`).catch(() => undefined);
      const mounted = await box.session.exec(mountBuildCacheScript('/dev/vdb'));
      if (mounted.exitCode !== 0) throw new BuildFailedError(`preparing the build cache disk in the box failed (exit ${mounted.exitCode})`);
      await uploadRuntime(box.session, runtimeBundlePath());
    });
    // One runtime process runs them all, each build in its own container and cgroup.
    const requests = builds.map((build) => ({
      request: { options: { keepFailedRoot: Boolean(job.debugBox), memoryMaxBytes: build.memoryMaxBytes }, buildArgv: buildArgsToArgv(build.args) },
      emit: build.emit,
    }));
    const ran = await Promise.all(
      (await runBoxBuilds(box.session, requests, { compileCache: BOX_NODE_COMPILE_CACHE })).map(
        async (outcome): Promise<PromiseSettledResult<RuntimeEvent>> =>
          outcome.status === 'fulfilled' ? outcome : { status: 'rejected', reason: await withConsoleTail(outcome.reason, () => box.machine.consoleTail()) },
      ),
    );
    signal?.throwIfAborted();
    // A VM that went away fails every build with it, whatever each runtime call saw.
    if (ran.some((outcome) => outcome.status === 'rejected')) {
      const lost = await box.lost();
      if (lost) throw lost;
    }
    if (job.debugBox && box.machine.isAlive()) {
      await job.debugBox(box, { failed: ran.some((outcome) => outcome.status === 'rejected'), failedRoot: BOX_FAILED_ROOT });
      // Not for the build cache disk: the next build would only remove it.
      await box.session.exec(`rm -rf ${shellQuote([BOX_FAILED_ROOT])}`);
    }
    const powerOff = async (): Promise<void> => {
      if (box.machine.isAlive()) saveCache = (await box.session.exec(unmountBuildCacheScript())).exitCode === 0;
      await box.shutdown();
    };
    // The images were closed in the box before their results came: they are compressed
    // here while the box powers off, a pack's at once (each compresses only its new
    // chunks, and hashing one image while another's chunks compress keeps the cores busy).
    const finishAll = (): Promise<PromiseSettledResult<BuildEvent>[]> =>
      Promise.allSettled(
        builds.map((build, index) =>
          finishBuild(build, ran[index]!, { imageName: names[index]!.image, chunkCache: xzChunksDir(job.boot.cacheRoot), started }, signal).catch((error: unknown) => {
            removeBuildLeftovers(build.args.targetDir, names[index]!);
            throw error;
          }),
        ),
      );
    // Both run to their end before a failed power-off fails the builds (finishAll never rejects).
    const [poweredOff, outcomes] = await Promise.all([powerOff().then(() => ({ ok: true as const }), (reason: unknown) => ({ ok: false as const, reason })), finishAll()]);
    if (!poweredOff.ok) throw poweredOff.reason;
    signal?.throwIfAborted();
    return outcomes;
  } catch (error) {
    const lost = signal?.aborted ? undefined : await running?.lost();
    await running?.shutdown().catch(() => undefined);
    builds.forEach((build, index) => removeBuildLeftovers(build.args.targetDir, names[index]!));
    throw signal?.aborted ? signal.reason : (lost ?? error);
  } finally {
    signal?.removeEventListener('abort', stopOnAbort);
    await running?.shutdown().catch(() => undefined);
    const saved = await disk.release(saveCache && !signal?.aborted);
    if (saveCache && !saved) {
      for (const build of builds) build.emit({ type: 'log', level: 'info', message: `the box's build cache was not updated: another build of ${job.boot.name} used or changed it meanwhile` });
    }
  }
}

/** Creates and takes each build's target dir (for the whole run); none is held if one is busy. */
async function lockTargetDirs(targetDirs: string[]): Promise<HeldLock[]> {
  const held: HeldLock[] = [];
  try {
    for (const dir of targetDirs) held.push(await lockTargetDir(dir));
    return held;
  } catch (error) {
    await Promise.all(held.map((lock) => lock.release()));
    throw error;
  }
}

function shareInput(build: BoxBuild) {
  return {
    descriptionDir: build.args.descriptionDir,
    targetDir: build.args.targetDir,
    sharedPaths: build.sharedPaths,
    repositoryPaths: build.model.repositories.flatMap((repo) => (repo.localPath ? [repo.localPath] : [])),
  };
}

/** A build's runtime outcome made final: its image compressed on the host, or its failure. */
async function finishBuild(
  build: BoxBuild,
  ran: PromiseSettledResult<RuntimeEvent>,
  how: { imageName: string; chunkCache: string; started: number },
  signal?: AbortSignal,
): Promise<BuildEvent> {
  if (ran.status === 'rejected') throw ran.reason;
  const last = ran.value;
  if (last.type !== 'build') throw new BuildFailedError(`the box runtime ended with a ${last.type} event instead of a build result`);
  // A raw disk comes back as it is (sparse and bootable); archives are compressed here.
  let finished: BuildEvent = last;
  if (last.compressionDeferred) {
    finished = await timedStep(build.emit, 'compress', `${how.imageName} (xz on this machine)`, async () => {
      const { event, stats } = await compressImage(last, how.chunkCache, signal);
      build.emit({ type: 'log', level: 'info', message: `xz: ${describeCompression(stats)}`, step: 'compress' });
      return event;
    });
  }
  // The whole boxbuild's time (kiwi.result.json keeps the build's own, in the box).
  return { ...finished, seconds: secondsSince(how.started) };
}

