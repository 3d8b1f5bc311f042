import { KiwiError } from '../common/errors.js';
import type { BuildEvent, RuntimeEvent } from '../protocol/events.js';
import { buildInBox, type BoxBuildJob } from './box-build.js';

/** One build of a batch, checked and ready: everything buildInBox needs but the events and the signal. */
export interface BatchEntry {
  name: string;
  job: Omit<BoxBuildJob, 'emit' | 'signal'>;
}

export interface BatchOutcome {
  name: string;
  status: 'built' | 'failed' | 'skipped';
  /** Wall time of this build, queueing not included. */
  seconds: number;
  targetDir: string;
  result?: BuildEvent;
  error?: { message: string; exitCode: number; hint?: string };
}

export interface BatchOptions {
  /** How many builds run at once (resource-budget.ts). */
  concurrency: number;
  /** Stop the running builds and skip the rest at the first failure. */
  failFast: boolean;
  /** Every event of every build, with the build's name. */
  onEvent: (name: string, event: RuntimeEvent) => void;
  /** Called as each build starts and ends. */
  onState?: (name: string, state: 'running' | BatchOutcome) => void;
  signal?: AbortSignal;
  /** Runs one build; buildInBox unless a test gives its own. */
  runBuild?: (job: BoxBuildJob) => Promise<BuildEvent>;
}

/**
 * Runs the builds of a batch, each in its own VM, at most `concurrency` at once, in the
 * order given. One failing build does not stop the others unless `failFast`. Resolves
 * when every build has ended (or was skipped); an interrupt stops them all and rejects.
 */
export async function runBatch(entries: BatchEntry[], options: BatchOptions): Promise<BatchOutcome[]> {
  const stopAll = new AbortController();
  const forward = (): void => stopAll.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', forward, { once: true });
  const outcomes = new Map<string, BatchOutcome>();
  let next = 0;

  const runOne = async (entry: BatchEntry): Promise<BatchOutcome> => {
    const started = Date.now();
    const base = { name: entry.name, targetDir: entry.job.args.targetDir };
    if (stopAll.signal.aborted) return { ...base, status: 'skipped', seconds: 0 };
    options.onState?.(entry.name, 'running');
    try {
      const result = await (options.runBuild ?? buildInBox)({ ...entry.job, emit: (event) => options.onEvent(entry.name, event), signal: stopAll.signal });
      return { ...base, status: 'built', seconds: (Date.now() - started) / 1000, result };
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (stopAll.signal.aborted) return { ...base, status: 'skipped', seconds: (Date.now() - started) / 1000 };
      if (options.failFast) stopAll.abort(new KiwiError(`stopped: ${entry.name} failed (--fail-fast)`));
      const kiwiError = error instanceof KiwiError ? error : undefined;
      return {
        ...base,
        status: 'failed',
        seconds: (Date.now() - started) / 1000,
        error: { message: error instanceof Error ? error.message : String(error), exitCode: kiwiError?.exitCode ?? 1, ...(kiwiError?.hint ? { hint: kiwiError.hint } : {}) },
      };
    }
  };

  const worker = async (): Promise<void> => {
    for (let index = next++; index < entries.length; index = next++) {
      const entry = entries[index]!;
      const outcome = await runOne(entry);
      outcomes.set(entry.name, outcome);
      options.onState?.(entry.name, outcome);
    }
  };
  try {
    // allSettled: after an interrupt every build's VM must be down before this returns.
    const ended = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(options.concurrency, entries.length)) }, worker));
    const failure = ended.find((result) => result.status === 'rejected');
    if (failure) throw failure.reason;
  } finally {
    options.signal?.removeEventListener('abort', forward);
  }
  return entries.map((entry) => outcomes.get(entry.name)!);
}
