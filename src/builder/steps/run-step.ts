import { timedStep } from '../../protocol/timed-step.js';
import type { BuildLog } from '../build-log.js';

/** Runs one build step (timedStep) into the build log, whose tail restarts at each step. */
export function runStep<T>(log: BuildLog, id: string, message: string, work: () => Promise<T> | T): Promise<T> {
  log.resetTail();
  return timedStep((event) => log.emit(event), id, message, work);
}
