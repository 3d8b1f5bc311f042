/**
 * The event protocol between the box half (runtime, builder) and the host half (cli, ui):
 * one JSON object per line on the runtime's stdout. Both
 * halves import these types; nothing here may depend on either of them.
 */

/** A named stage of the runtime's work, reported when it starts and when it ends. */
export interface StepEvent {
  type: 'step';
  /** Stable machine name, e.g. "overlay", "cgroup", "run". */
  id: string;
  state: 'start' | 'done' | 'failed';
  /** One human line, e.g. "cgroup v1 (memory, pids, cpu)"; optional. */
  message?: string;
}

/** A line of text: the runtime's own diagnostics, or (with `stream`) the command's output. */
export interface LogEvent {
  type: 'log';
  /** debug lines are shown only with --debug; warn lines always (unless --quiet). */
  level: 'debug' | 'info' | 'warn';
  message: string;
  /** Set when the text is the container command's own output, carried as events (--json). */
  stream?: 'stdout' | 'stderr';
  /** The step this line belongs to, if any. */
  step?: string;
}

/** Progress of a long step; `total` is absent when unknown. Units are the step's own. */
export interface ProgressEvent {
  type: 'progress';
  id: string;
  current: number;
  total?: number;
  /** What `current` and `total` count, e.g. "bytes". */
  unit?: string;
}

/** Resource accounting of one container run, read from its cgroup at the end. */
export interface ContainerUsage {
  /** Highest memory use in bytes, or null when the cgroup could not tell. */
  memoryPeakBytes: number | null;
  /** CPU time in microseconds (user + system), or null without a cgroup. */
  cpuUsec: number | null;
  cpuUserUsec: number | null;
  cpuSystemUsec: number | null;
  /** Processes the kernel OOM-killed because of the memory limit. */
  oomKills: number;
  /** Times a fork failed because of the pids limit. */
  pidsLimitHits: number;
}

/** The outcome of a container run: the last event of a successful runtime. */
export interface ResultEvent {
  type: 'result';
  /** The command's exit code; 128 + signal number when a signal ended it. */
  exitCode: number;
  /** Name of the signal that ended the command, if one did. */
  signal?: string;
  /** Why the kernel stopped the command, when a limit did: the human line to print. */
  killedBy?: string;
  /** Wall-clock time of the command in milliseconds. */
  wallMs: number;
  usage: ContainerUsage;
  /** Directory the merged root was saved to (--commit), if it was. */
  committed?: string;
}

/** The runtime failed before or around the command (not the command itself). */
export interface ErrorEvent {
  type: 'error';
  message: string;
  hint?: string;
  /** kiwi's exit code for it: 1 failed, 2 bad usage or input, 3 environment. */
  exitCode: 1 | 2 | 3;
  /** The step that failed, if any. */
  step?: string;
}

/** A finished image build (`kiwi build`): its result files, absolute, and what the build did. */
export interface BuildEvent {
  type: 'build';
  image: string;
  packages: string;
  /** kiwi.result.json. */
  result: string;
  log: string;
  sizeBytes: number;
  seconds: number;
  bootstrap: 'cached' | 'built';
  /** Highest memory use of the build's container, in bytes (null without cgroup accounting). */
  peakMemoryBytes: number | null;
  /** Container references (name:tag), for oci and docker images. */
  references?: string[];
  /** Set when the image was written uncompressed for the host to compress (a build in a box). */
  compressionDeferred?: boolean;
  /** Offsets in the uncompressed image where its compression ends a chunk (chunked-xz.ts). */
  chunkCuts?: number[];
}

export type RuntimeEvent = StepEvent | LogEvent | ProgressEvent | ResultEvent | ErrorEvent | BuildEvent;

export type RuntimeEventHandler = (event: RuntimeEvent) => void;

/** The error event for a kiwi error: its message, hint and exit code. */
export function errorEvent(error: { message: string; exitCode: 1 | 2 | 3; hint?: string | undefined }): ErrorEvent {
  return { type: 'error', message: error.message, exitCode: error.exitCode, ...(error.hint ? { hint: error.hint } : {}) };
}

/** One protocol line, newline included. */
export function encodeEvent(event: RuntimeEvent): string {
  return `${JSON.stringify(event)}\n`;
}

/**
 * One line of a runtime that runs several builds at once (a pack): the event with the
 * index of the build it belongs to, `buildIndex`, among its other fields.
 */
export function encodeBuildEvent(buildIndex: number, event: RuntimeEvent): string {
  return `${JSON.stringify({ ...event, buildIndex })}\n`;
}

export class ProtocolError extends Error {}

const TYPES = new Set(['step', 'log', 'progress', 'result', 'error', 'build']);

/**
 * Parses one protocol line. Checks the shape just enough that a renderer can trust the
 * fields it reads; a line that is not an event (e.g. stray output) is a ProtocolError.
 */
export function decodeEvent(line: string): RuntimeEvent {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new ProtocolError(`not a JSON event line: ${line.slice(0, 120)}`, { cause: error });
  }
  if (typeof value !== 'object' || value === null || !TYPES.has((value as { type?: unknown }).type as string)) {
    throw new ProtocolError(`not a runtime event: ${line.slice(0, 120)}`);
  }
  const event = value as Record<string, unknown>;
  const needs: Record<string, string[]> = {
    step: ['id', 'state'],
    log: ['level', 'message'],
    progress: ['id', 'current'],
    result: ['exitCode', 'wallMs', 'usage'],
    error: ['message', 'exitCode'],
    build: ['image', 'packages', 'result', 'log'],
  };
  const missing = needs[event.type as string]!.filter((key) => event[key] === undefined);
  if (missing.length > 0) throw new ProtocolError(`${String(event.type)} event without ${missing.join(', ')}`);
  return value as RuntimeEvent;
}

/** Parses a line of encodeBuildEvent: the event without its build index, and the index. */
export function decodeBuildEvent(line: string): { buildIndex: number; event: RuntimeEvent } {
  const { buildIndex, ...event } = decodeEvent(line) as RuntimeEvent & { buildIndex?: unknown };
  if (typeof buildIndex !== 'number' || !Number.isInteger(buildIndex) || buildIndex < 0) {
    throw new ProtocolError(`event without a build index: ${line.slice(0, 120)}`);
  }
  return { buildIndex, event: event as RuntimeEvent };
}
