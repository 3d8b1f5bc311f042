import { BuildFailedError } from '../common/errors.js';

/**
 * A build step that ran and failed (exit 1): which step, the exit code of what it ran, the
 * last lines of its output and where the full log is. The message carries all of it, so
 * the CLI's one error line tells the user what happened without opening the log.
 */
export class BuildStepError extends BuildFailedError {
  constructor(
    /** The build step, e.g. "config" (config.sh) or "bootstrap". */
    readonly step: string,
    /** Exit code of the step's command; 128 + N when signal N ended it. */
    readonly stepExitCode: number,
    /** The last lines of the step's output, oldest first. */
    readonly logTail: readonly string[],
    /** The full build log, if one is written. */
    readonly logFile: string | undefined,
  ) {
    const tail = logTail.length > 0 ? `\n${logTail.map((line) => `  | ${line}`).join('\n')}` : '';
    super(`build step ${step} failed with exit code ${stepExitCode}${tail}`, {
      hint: logFile ? `the full log is ${logFile}` : 'run with --debug to see every command',
    });
  }
}
