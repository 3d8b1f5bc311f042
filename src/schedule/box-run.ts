import fs from 'node:fs';
import path from 'node:path';
import { BuildFailedError } from '../common/errors.js';
import type { ResultEvent, RuntimeEventHandler } from '../protocol/events.js';
import type { ContainerSpec } from '../runtime/spec.js';
import { bootBox, type BootOptions, type RunningBox } from '../vm/boot-box.js';
import { runBoxRuntime, uploadRuntime, withConsoleTail } from './box-runtime-client.js';
import { runtimeBundlePath } from './runtime-bundle.js';
import { containerShares } from './same-path-shares.js';

export interface BoxRunJob {
  /** The box to boot and how; `shares` are the user's own (--share), added to the run's. */
  boot: Omit<BootOptions, 'signal'>;
  /** The container, its paths on this machine: they are shared into the box at the same paths. */
  spec: ContainerSpec;
  /** The runtime's events; the command's output arrives as log events with `stream`. */
  emit: RuntimeEventHandler;
  signal?: AbortSignal;
}

/**
 * `kiwi run --box`: the container runs in a fresh VM of the box (as root there), so a
 * machine without root or cgroup v2 still can. The root tree, binds and the --commit
 * parent are shared in at their own paths; the VM is stopped on every way out.
 */
export async function runInBox(job: BoxRunJob): Promise<ResultEvent> {
  const { spec, signal } = job;
  // Made here, as a run on this machine would make it: the --commit parent is shared into the box, so it must exist.
  if (spec.commitDir) fs.mkdirSync(path.dirname(spec.commitDir), { recursive: true });
  const shares = [...containerShares(spec, (file) => fs.statSync(file, { throwIfNoEntry: false })?.isDirectory() ?? false), ...(job.boot.shares ?? [])];
  let running: RunningBox | undefined;
  const stopOnAbort = (): void => void running?.shutdown().catch(() => undefined);
  signal?.addEventListener('abort', stopOnAbort, { once: true });
  try {
    running = await bootBox({ ...job.boot, shares, ...(signal ? { signal } : {}) });
    await uploadRuntime(running.session, runtimeBundlePath());
    const last = await runBoxRuntime(running.session, ['run', JSON.stringify(spec)], job.emit);
    signal?.throwIfAborted();
    if (last.type !== 'result') throw new BuildFailedError(`the box runtime ended with a ${last.type} event instead of the command's result`);
    return last;
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    const box = running;
    throw (await box?.lost()) ?? (box ? await withConsoleTail(error, () => box.machine.consoleTail()) : error);
  } finally {
    signal?.removeEventListener('abort', stopOnAbort);
    await running?.shutdown().catch(() => undefined);
  }
}
