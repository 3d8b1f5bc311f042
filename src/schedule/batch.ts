import { KiwiError } from '../common/errors.js';
import type { BuildEvent, RuntimeEvent } from '../protocol/events.js';
import { buildPackInBox, type BoxBuild, type BoxPackJob } from './box-build.js';

/** One build of a batch, checked and ready: what its VM and its build need, but the events and the signal. */
export interface BatchEntry {
  name: string;
  /** The VM that runs it (shared by the builds of a pack: the first entry's is used). */
  box: Omit<BoxPackJob, 'builds' | 'signal' | 'debugBox'>;
  build: Omit<BoxBuild, 'emit'>;
}

/** The builds one VM runs: one, or several with --pack. */
export type BatchUnit = BatchEntry[];

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
  /** How many VMs run at once (resource-budget.ts). */
  concurrency: number;
  /** Stop the running builds and skip the rest at the first failure. */
  failFast: boolean;
  /** Every event of every build, with the build's name. */
  onEvent: (name: string, event: RuntimeEvent) => void;
  /** Called as each build starts and ends. */
  onState?: (name: string, state: 'running' | BatchOutcome) => void;
  signal?: AbortSignal;
  /** Runs one VM's builds; buildPackInBox unless a test gives its own. */
  runPack?: (job: BoxPackJob) => Promise<PromiseSettledResult<BuildEvent>[]>;
}

/**
 * Runs the builds of a batch, a VM per unit, at most `concurrency` VMs at once, in the order
 * given. One failing build does not stop the others unless `failFast`. Resolves when every
 * build has ended (or was skipped); an interrupt stops them all and rejects.
 */
export async function runBatch(units: BatchUnit[], options: BatchOptions): Promise<BatchOutcome[]> {
  const stopAll = new AbortController();
  const forward = (): void => stopAll.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', forward, { once: true });
  const outcomes = new Map<string, BatchOutcome>();
  let next = 0;

  const runUnit = async (unit: BatchUnit): Promise<BatchOutcome[]> => {
    const started = Date.now();
    const base = (entry: BatchEntry) => ({ name: entry.name, targetDir: entry.build.args.targetDir });
    if (stopAll.signal.aborted) return unit.map((entry) => ({ ...base(entry), status: 'skipped', seconds: 0 }));
    for (const entry of unit) options.onState?.(entry.name, 'running');
    const job: BoxPackJob = {
      ...unit[0]!.box,
      builds: unit.map((entry) => ({ ...entry.build, emit: (event: RuntimeEvent) => options.onEvent(entry.name, event) })),
      signal: stopAll.signal,
    };
    const settled = await (options.runPack ?? buildPackInBox)(job).catch((error: unknown) => unit.map((): PromiseRejectedResult => ({ status: 'rejected', reason: error })));
    if (options.signal?.aborted) throw options.signal.reason;
    return unit.map((entry, index): BatchOutcome => {
      const seconds = (Date.now() - started) / 1000;
      const outcome = settled[index]!;
      if (outcome.status === 'fulfilled') return { ...base(entry), status: 'built', seconds, result: outcome.value };
      if (stopAll.signal.aborted) return { ...base(entry), status: 'skipped', seconds };
      if (options.failFast) stopAll.abort(new KiwiError(`stopped: ${entry.name} failed (--fail-fast)`));
      const error: unknown = outcome.reason;
      const kiwiError = error instanceof KiwiError ? error : undefined;
      return {
        ...base(entry),
        status: 'failed',
        seconds,
        error: { message: error instanceof Error ? error.message : String(error), exitCode: kiwiError?.exitCode ?? 1, ...(kiwiError?.hint ? { hint: kiwiError.hint } : {}) },
      };
    });
  };

  const worker = async (): Promise<void> => {
    for (let index = next++; index < units.length; index = next++) {
      for (const outcome of await runUnit(units[index]!)) {
        outcomes.set(outcome.name, outcome);
        options.onState?.(outcome.name, outcome);
      }
    }
  };
  try {
    // allSettled: after an interrupt every VM must be down before this returns.
    const ended = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(options.concurrency, units.length)) }, worker));
    const failure = ended.find((result) => result.status === 'rejected');
    if (failure) throw failure.reason;
  } finally {
    options.signal?.removeEventListener('abort', forward);
  }
  return units.flat().map((entry) => outcomes.get(entry.name)!);
}
