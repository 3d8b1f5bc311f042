import { formatDuration } from '../common/units.js';
import type { RuntimeEvent } from '../protocol/events.js';

/** The build's own steps, and a boxbuild's host steps (the runtime's steps inside them are shown only with --debug). */
export const BUILD_STEPS: ReadonlySet<string> = new Set(['box', 'upload', 'compress', 'bootstrap', 'sources', 'post-bootstrap', 'packages', 'archives', 'overlay', 'setup', 'config', 'uninstall', 'images', 'clean', 'commit', 'packages-list', 'archive', 'layer', 'container', 'disk']);

/** How often a running step is told in plain output. */
export const HEARTBEAT_MS = 60_000;

/**
 * In plain output (CI logs), where a step's output lines are not shown: a line every minute
 * while a step runs, with its latest output line, so that a long step (a bootstrap under
 * emulation takes minutes, through qemu-user in a box hours) is seen to be alive and doing
 * something, and CI runners that stop a silent job leave it be.
 */
export class StepHeartbeat {
  private current: { id: string; started: number; lastLine?: string; timer: NodeJS.Timeout } | undefined;

  constructor(
    private readonly write: (line: string) => void,
    private readonly intervalMs = HEARTBEAT_MS,
  ) {}

  onEvent(event: RuntimeEvent): void {
    if (event.type === 'step' && BUILD_STEPS.has(event.id)) {
      if (event.state === 'start') this.follow(event.id);
      else if (event.id === this.current?.id) this.stop();
    } else if (event.type === 'log' && this.current && event.step === this.current.id) {
      this.current.lastLine = event.message;
    } else if (event.type === 'build' || event.type === 'error') {
      this.stop();
    }
  }

  stop(): void {
    clearInterval(this.current?.timer);
    this.current = undefined;
  }

  /** Counts from the step's start, so the lines say 1m00s, 2m00s... */
  private follow(id: string): void {
    this.stop();
    const timer = setInterval(() => this.beat(), this.intervalMs);
    timer.unref();
    this.current = { id, started: Date.now(), timer };
  }

  private beat(): void {
    if (!this.current) return;
    const running = `${this.current.id} running for ${formatDuration((Date.now() - this.current.started) / 1000)}`;
    this.write(this.current.lastLine ? `${running}: ${this.current.lastLine.slice(0, 160)}` : running);
  }
}
