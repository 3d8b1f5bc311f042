import type { RuntimeEventHandler } from '../protocol/events.js';
import { timedStep } from '../protocol/timed-step.js';

/**
 * The runtime's side of the event protocol: helpers that emit step, log and error events
 * through one handler. Natively the handler is the CLI's renderer; in a box it writes
 * JSON lines to stdout. The runtime never prints anything itself.
 */
export class Reporter {
  constructor(readonly emit: RuntimeEventHandler) {}

  /** Shown only with --debug: every namespace, mount, cgroup write and command. */
  debug(message: string, step?: string): void {
    this.emit({ type: 'log', level: 'debug', message, ...(step ? { step } : {}) });
  }

  info(message: string, step?: string): void {
    this.emit({ type: 'log', level: 'info', message, ...(step ? { step } : {}) });
  }

  warn(message: string, step?: string): void {
    this.emit({ type: 'log', level: 'warn', message, ...(step ? { step } : {}) });
  }

  /** Runs `work` as the step `id` (timedStep). */
  step<T>(id: string, message: string, work: () => Promise<T> | T): Promise<T> {
    return timedStep(this.emit, id, message, work);
  }
}
