import fs from 'node:fs';
import path from 'node:path';
import type { RuntimeEvent, RuntimeEventHandler } from '../protocol/events.js';

/**
 * The build's full log (T/build/image-root.log): every event and every line the build's
 * commands print, timestamped. It also keeps the last lines of output, for the tail a
 * failed step reports, and forwards events to the caller's handler.
 */
export class BuildLog {
  private fd: number | undefined;
  private tail: string[] = [];

  constructor(
    readonly file: string,
    private readonly forward: RuntimeEventHandler,
    private readonly tailSize = 30,
  ) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.fd = fs.openSync(file, 'w');
  }

  /** Records and forwards one event. */
  readonly emit: RuntimeEventHandler = (event) => {
    this.write(describe(event));
    this.forward(event);
  };

  /** A line of a command's output: into the log and the tail; forwarded as a debug line. */
  output(line: string, step: string): void {
    this.write(`  ${line}`);
    this.tail.push(line);
    if (this.tail.length > this.tailSize) this.tail.shift();
    this.forward({ type: 'log', level: 'debug', message: line, step });
  }

  /** The last lines of output since the last reset. */
  lastLines(count = 20): string[] {
    return this.tail.slice(-count);
  }

  /** Starts a new tail (at each step start, so a failure shows its own step's lines). */
  resetTail(): void {
    this.tail = [];
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  private write(line: string): void {
    if (this.fd === undefined) return;
    fs.writeSync(this.fd, `${new Date().toISOString()} ${line}\n`);
  }
}

function describe(event: RuntimeEvent): string {
  switch (event.type) {
    case 'step':
      return `[${event.id}] ${event.state}${event.message ? `: ${event.message}` : ''}`;
    case 'log':
      return `${event.step ? `[${event.step}] ` : ''}${event.level}: ${event.message}`;
    case 'progress':
      return `[${event.id}] ${event.current}${event.total !== undefined ? `/${event.total}` : ''} ${event.unit ?? ''}`;
    case 'result':
      return `result: exit ${event.exitCode}`;
    case 'error':
      return `error: ${event.message}`;
    case 'build':
      return `built ${event.image}`;
  }
}
