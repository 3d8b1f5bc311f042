import { formatBytes, formatDuration } from '../common/units.js';
import type { RuntimeEvent } from '../protocol/events.js';
import { StepHeartbeat } from './step-heartbeat.js';
import { createTaskList, isInteractive } from './task-list.js';

/** What the progress display needs to know of a build's end. */
export interface BuildEnd {
  status: 'built' | 'failed' | 'skipped';
  seconds: number;
  message?: string;
}

/** A build's task: its current step, when it started, and how to redraw and end it. */
interface TrackedBuild {
  step: string;
  started: number;
  update?: (title: string, output?: string) => void;
  heartbeat?: StepHeartbeat;
  ended: (end: BuildEnd) => void;
  end: Promise<BuildEnd>;
}

/**
 * One listr2 task per build (of a batch, or the one of kiwi build / boxbuild on a
 * terminal): its title says the build's current step and how long the build has run, its
 * output the finished steps with their times and the latest log line. On a terminal they
 * redraw live; in CI logs (the simple renderer) each change is a timestamped line.
 */
export class BuildProgress {
  private readonly builds = new Map<string, TrackedBuild>();
  private readonly done: Promise<unknown>;
  /** Redraws the running builds' titles each second, so their elapsed time moves. */
  private readonly ticker: NodeJS.Timeout;

  /** On a terminal the current step's output lines show too; in CI logs (every line of every build) a heartbeat instead. */
  private readonly live = isInteractive();

  constructor(names: string[]) {
    for (const name of names) {
      let ended!: (end: BuildEnd) => void;
      const end = new Promise<BuildEnd>((resolve) => (ended = resolve));
      this.builds.set(name, { step: 'waiting', started: 0, ended, end });
    }
    const list = createTaskList(
      names.map((name) => ({
        title: `${name}: waiting`,
        rendererOptions: { outputBar: 4, persistentOutput: true },
        task: async (_context: object, task: { title: string; output: string }) => {
          const build = this.builds.get(name)!;
          build.update = (title, output) => {
            task.title = title;
            if (output !== undefined) task.output = output;
          };
          const end = await build.end;
          build.started = 0;
          task.title = `${name}: ${end.status} in ${formatDuration(end.seconds)}${end.message ? ` — ${end.message.split('\n')[0]}` : ''}`;
          if (end.status === 'failed') throw new Error(task.title);
        },
      })),
      { concurrent: true, exitOnError: false },
    );
    // A failed task is reported by its title; the batch's own result decides the exit code.
    this.done = list.run().catch(() => undefined);
    this.ticker = setInterval(() => {
      for (const [name, build] of this.builds) if (build.started && build.update) build.update(this.title(name));
    }, 1000);
    this.ticker.unref();
  }

  started(name: string): void {
    const build = this.builds.get(name);
    if (!build) return;
    build.started = Date.now();
    build.step = 'starting';
    if (!this.live) build.heartbeat = new StepHeartbeat((line) => build.update?.(this.title(name), line));
    this.redraw(name);
  }

  onEvent(name: string, event: RuntimeEvent): void {
    const build = this.builds.get(name);
    if (!build) return;
    build.heartbeat?.onEvent(event);
    if (event.type === 'step' && event.state === 'start') {
      build.step = event.id;
      this.redraw(name, event.message);
    } else if (event.type === 'step' && event.id === build.step) {
      build.update?.(this.title(name), `${event.state === 'done' ? '✔' : '✖'} ${event.id}${event.message ? ` (${event.message})` : ''}`);
    } else if (event.type === 'log' && shownLogLine(event, build.step, this.live)) {
      build.update?.(this.title(name), event.message.slice(0, 200));
    }
  }

  ended(name: string, end: BuildEnd): void {
    const build = this.builds.get(name);
    build?.heartbeat?.stop();
    build?.ended(end);
  }

  /** Waits until every task has drawn its end. */
  async close(): Promise<void> {
    clearInterval(this.ticker);
    for (const build of this.builds.values()) build.ended({ status: 'skipped', seconds: 0 });
    await this.done;
  }

  private redraw(name: string, output?: string): void {
    this.builds.get(name)?.update?.(this.title(name), output);
  }

  private title(name: string): string {
    const build = this.builds.get(name)!;
    return `${name}: ${build.step} (${formatDuration((Date.now() - build.started) / 1000)})`;
  }
}

/**
 * Whether a log line shows under a build's task: warnings and notes always, the container
 * command's output always, and when drawn live, the output of the step it is in (apt, dpkg,
 * the scripts: what a long step is doing).
 */
export function shownLogLine(event: Extract<RuntimeEvent, { type: 'log' }>, currentStep: string, live: boolean): boolean {
  return Boolean(event.stream) || event.level !== 'debug' || (live && event.step === currentStep);
}

/** The batch's summary table, one row per build. */
export function summaryTable(rows: { name: string; status: string; seconds: number; peakMemoryBytes: number | null | undefined; outputs: string[] }[]): string {
  const cells = [
    ['build', 'result', 'time', 'peak memory', 'outputs'],
    ...rows.map((row) => [row.name, row.status, formatDuration(row.seconds), row.peakMemoryBytes ? formatBytes(row.peakMemoryBytes) : '-', row.outputs.join(', ') || '-']),
  ];
  const widths = cells[0]!.map((_, column) => Math.max(...cells.map((row) => row[column]!.length)));
  return cells.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ')).join('\n');
}
