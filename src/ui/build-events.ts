import type { RuntimeEvent, RuntimeEventHandler } from '../protocol/events.js';
import { BuildProgress, type BuildEnd } from './build-progress.js';
import { renderPlain } from './runtime-events.js';
import { BUILD_STEPS, StepHeartbeat } from './step-heartbeat.js';
import { isInteractive } from './task-list.js';

/**
 * Plain lines on stderr: each build step as it starts and ends with its elapsed time, and
 * once a minute while it runs (debug: every line as it comes); the rest as `kiwi run` shows it.
 */
export function renderBuild(mode: 'normal' | 'debug'): RuntimeEventHandler {
  const plain = renderPlain(mode);
  const heartbeat = mode === 'normal' ? new StepHeartbeat((line) => process.stderr.write(`kiwi: ${line}\n`)) : undefined;
  return (event: RuntimeEvent) => {
    heartbeat?.onEvent(event);
    if (mode === 'normal' && event.type === 'step' && BUILD_STEPS.has(event.id)) {
      if (event.state === 'start') process.stderr.write(`kiwi: ${event.id}: ${event.message ?? ''}\n`);
      else if (event.state === 'done') process.stderr.write(`kiwi: ${event.id} done (${event.message ?? ''})\n`);
      else process.stderr.write(`kiwi: ${event.id} failed${event.message ? `: ${event.message}` : ''}\n`);
      return;
    }
    plain(event);
  };
}

/** How a single build is shown: a live listr2 task on a terminal, plain lines otherwise (and with --debug). */
export interface BuildDisplay {
  emit: RuntimeEventHandler;
  /** Runs the build and draws its end, built or failed. */
  track<T>(build: Promise<T>): Promise<T>;
}

/** `live: false` keeps to plain lines on a terminal too (something else will use it). */
export function buildDisplay(name: string, mode: 'normal' | 'debug', options: { live?: boolean } = {}): BuildDisplay {
  if (mode === 'debug' || options.live === false || !isInteractive()) return { emit: renderBuild(mode), track: (build) => build };
  const progress = new BuildProgress([name]);
  progress.started(name);
  const started = Date.now();
  const finish = async (end: Omit<BuildEnd, 'seconds'>): Promise<void> => {
    progress.ended(name, { ...end, seconds: (Date.now() - started) / 1000 });
    await progress.close();
  };
  return {
    emit: (event) => progress.onEvent(name, event),
    track: (build) =>
      build.then(
        async (result) => {
          await finish({ status: 'built' });
          return result;
        },
        async (error: unknown) => {
          await finish({ status: 'failed', message: error instanceof Error ? error.message : String(error) });
          throw error;
        },
      ),
  };
}
