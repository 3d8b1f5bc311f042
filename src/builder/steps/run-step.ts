import { formatDuration } from '../../common/units.js';
import type { BuildLog } from '../build-log.js';

/**
 * Runs one build step: a start event, then done with the elapsed time (in the done
 * event's message, e.g. "12s"), or failed. The tail of the log restarts at each step.
 */
export async function runStep<T>(log: BuildLog, id: string, message: string, work: () => Promise<T> | T): Promise<T> {
  const started = Date.now();
  log.resetTail();
  log.emit({ type: 'step', id, state: 'start', message });
  try {
    const result = await work();
    log.emit({ type: 'step', id, state: 'done', message: formatDuration((Date.now() - started) / 1000) });
    return result;
  } catch (error) {
    log.emit({ type: 'step', id, state: 'failed', message: error instanceof Error ? error.message.split('\n')[0] : String(error) });
    throw error;
  }
}
