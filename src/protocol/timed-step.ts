import { formatDuration } from '../common/units.js';
import type { RuntimeEventHandler } from './events.js';

/**
 * Runs `work` as the step `id`: a start event, then done with the elapsed time as its
 * message (e.g. "12s"), or failed with the error's first line. The one step runner of the
 * runtime, the builder and the host's work around a box.
 */
export async function timedStep<T>(emit: RuntimeEventHandler, id: string, message: string, work: () => Promise<T> | T): Promise<T> {
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
}
