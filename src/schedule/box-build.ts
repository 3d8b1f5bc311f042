import fs from 'node:fs';
import { buildArgsToArgv, type BuildArgs } from '../builder/build-args.js';
import type { ImageModel } from '../builder/description/model.js';
import { resultNames } from '../builder/outputs/naming.js';
import { BuildFailedError } from '../common/errors.js';
import { formatDuration } from '../common/units.js';
import type { BuildEvent, RuntimeEventHandler } from '../protocol/events.js';
import { bootBox, type BootOptions, type RunningBox } from '../vm/boot-box.js';
import { acquireBuildCacheDisk, mountBuildCacheScript, unmountBuildCacheScript } from '../vm/build-cache-disk.js';
import { boxBuildShares } from './same-path-shares.js';
import { runBoxRuntime, uploadRuntime } from './box-runtime-client.js';
import { compressDeferredImage, removeBuildLeftovers } from './finish-image.js';
import { runtimeBundlePath } from './runtime-bundle.js';

export interface BoxBuildJob {
  /** The box to boot and how; `shares` are the user's own (--share), added to the build's. */
  boot: Omit<BootOptions, 'dataDisks' | 'signal'>;
  /** The build arguments, checked on the host; paths absolute. */
  args: BuildArgs;
  /** The description loaded on the host (validation before boot, result names). */
  model: ImageModel;
  /** --shared-path directories, absolute. */
  sharedPaths: string[];
  /** Size of the build cache disk (sparse: it takes only what the builds use). */
  diskSizeBytes: number;
  /** Every event of the build: the host's own steps (box, compress) and the box runtime's. */
  emit: RuntimeEventHandler;
  signal?: AbortSignal;
}

/**
 * One `kiwi boxbuild`: boot the box with the description (read-only) and the target dir
 * shared at their host paths and the build cache disk attached, upload the runtime, build
 * in the box, power it off, then compress the image on the host. On failure or interrupt
 * the VM is stopped and the target dir keeps only its earlier contents and the build log.
 */
export async function buildInBox(job: BoxBuildJob): Promise<BuildEvent> {
  const { args, emit, signal } = job;
  const started = Date.now();
  const repositoryPaths = job.model.repositories.flatMap((repo) => (repo.localPath ? [repo.localPath] : []));
  const shares = [...boxBuildShares({ descriptionDir: args.descriptionDir, targetDir: args.targetDir, sharedPaths: job.sharedPaths, repositoryPaths }), ...(job.boot.shares ?? [])];
  fs.mkdirSync(args.targetDir, { recursive: true });
  const names = resultNames(job.model, false);
  // What a killed earlier run of this build left half-written (its own cleanup never ran).
  removeBuildLeftovers(args.targetDir, names);
  const step = hostStep(emit);
  const disk = await acquireBuildCacheDisk({ cacheRoot: job.boot.cacheRoot, name: job.boot.name, arch: job.boot.arch, sizeBytes: job.diskSizeBytes, ...(signal ? { signal } : {}) });
  let running: RunningBox | undefined;
  // The cache learns from a build that ran to its end (failed or not) with its disk cleanly unmounted.
  let saveCache = false;
  const stopOnAbort = (): void => void running?.shutdown().catch(() => undefined);
  signal?.addEventListener('abort', stopOnAbort, { once: true });
  try {
    running = await step('box', `booting ${job.boot.name} (${job.boot.arch}, ${job.boot.shareBackend ?? '9p'} shares)`, () =>
      bootBox({ ...job.boot, shares, dataDisks: [{ file: disk.file }], ...(signal ? { signal } : {}) }),
    );
    const box = running;
    await step('upload', 'build cache disk and in-box runtime', async () => {
      const mounted = await box.session.exec(mountBuildCacheScript('/dev/vdb'));
      if (mounted.exitCode !== 0) throw new BuildFailedError(`preparing the build cache disk in the box failed (exit ${mounted.exitCode})`);
      await uploadRuntime(box.session, runtimeBundlePath());
    });
    const ran = await runBoxRuntime(box.session, ['build', ...buildArgsToArgv(args)], emit).then(
      (last) => ({ last }),
      (error: unknown) => ({ error }),
    );
    signal?.throwIfAborted();
    if (box.machine.isAlive()) saveCache = (await box.session.exec(unmountBuildCacheScript())).exitCode === 0;
    await box.shutdown();
    if ('error' in ran) throw ran.error;
    const last = ran.last;
    if (last.type !== 'build') throw new BuildFailedError(`the box runtime ended with a ${last.type} event instead of a build result`);
    const finished = await step('compress', `${names.image} (xz -T0 on this machine)`, () => compressDeferredImage(last, signal));
    // The whole boxbuild's time (kiwi.result.json keeps the build's own, in the box).
    return { ...finished, seconds: Math.round((Date.now() - started) / 100) / 10 };
  } catch (error) {
    await running?.shutdown().catch(() => undefined);
    removeBuildLeftovers(args.targetDir, names);
    throw signal?.aborted ? signal.reason : error;
  } finally {
    signal?.removeEventListener('abort', stopOnAbort);
    await running?.shutdown().catch(() => undefined);
    const saved = await disk.release(saveCache && !signal?.aborted);
    if (saveCache && !saved) emit({ type: 'log', level: 'info', message: `the box's build cache was not updated: another build of ${job.boot.name} used or changed it meanwhile` });
  }
}

/** Steps the host runs around the box's build, reported as the box's own steps are. */
function hostStep(emit: RuntimeEventHandler) {
  return async <T>(id: string, message: string, work: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    emit({ type: 'step', id, state: 'start', message });
    try {
      const result = await work();
      emit({ type: 'step', id, state: 'done', message: formatDuration((Date.now() - started) / 1000) });
      return result;
    } catch (error) {
      emit({ type: 'step', id, state: 'failed', message: error instanceof Error ? error.message.split('\n')[0] : String(error) });
      throw error;
    }
  };
}
