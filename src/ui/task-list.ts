import { Listr, ListrLogger, PRESET_TIMESTAMP, ProcessOutput, type ListrTask } from 'listr2';

/** Whether progress is drawn live (a terminal) or printed as plain timestamped lines (CI logs). */
export function isInteractive(stream: NodeJS.WriteStream = process.stderr): boolean {
  return Boolean(stream.isTTY) && process.env.CI === undefined && process.env.TERM !== 'dumb';
}

/**
 * A listr2 task list drawing on stderr, so stdout stays free for results and --json.
 * On a terminal: the live renderer; otherwise one timestamped line per event.
 */
export function createTaskList<Context extends object>(tasks: ListrTask<Context>[], options: { concurrent?: boolean; exitOnError?: boolean } = {}): Listr<Context, 'default', 'simple'> {
  const processOutput = new ProcessOutput(process.stderr, process.stderr);
  return new Listr<Context, 'default', 'simple'>(tasks, {
    renderer: 'default',
    rendererOptions: { collapseSubtasks: false, logger: new ListrLogger({ processOutput }) },
    fallbackRenderer: 'simple',
    fallbackRendererOptions: { timestamp: PRESET_TIMESTAMP, logger: new ListrLogger({ processOutput }) },
    fallbackRendererCondition: !isInteractive(),
    concurrent: options.concurrent ?? false,
    exitOnError: options.exitOnError ?? true,
    registerSignalListeners: false,
  });
}
