import { PassThrough } from 'node:stream';
import { finished } from 'node:stream/promises';
import { BuildFailedError, EnvironmentError, UsageError, type KiwiError } from '../common/errors.js';
import { forwardLines } from '../common/lines.js';
import { shellQuote } from '../common/shell-quote.js';
import { decodeBuildEvent, decodeEvent, ProtocolError, type ErrorEvent, type RuntimeEvent, type RuntimeEventHandler } from '../protocol/events.js';
import { boxBuildsArgv, type BoxBuildRequest } from '../runtime/box-build-command.js';
import type { ExecResult, SshSession } from '../transport/ssh-session.js';

/** Where the uploaded runtime lives in the box (tmpfs: gone with the VM) and the Node that runs it. */
export const BOX_RUNTIME_FILE = '/run/kiwi-box-runtime.mjs';
export const BOX_NODE = '/opt/kiwi/node/bin/node';

/** Uploads the runtime bundle into the box. */
export async function uploadRuntime(session: SshSession, bundle: string): Promise<void> {
  await session.upload(bundle, BOX_RUNTIME_FILE);
}

/**
 * Runs the in-box runtime with `args` and passes each event it prints to `emit`. Resolves
 * with the last event (`build` or `result`); an `error` event becomes the KiwiError of its
 * exit code. A runtime that ends without either is a failure, never a success.
 */
export async function runBoxRuntime(session: SshSession, args: string[], emit: RuntimeEventHandler, options: RuntimeOptions = {}): Promise<RuntimeEvent> {
  let last: RuntimeEvent | undefined;
  const ended = await execRuntime(session, args, decodeEvent, (event) => {
    if (isLast(event)) last = event;
    emit(event);
  }, emit, options);
  return settle(last, ended);
}

/**
 * Runs the builds in one runtime process (its `builds` command, box-build-command.ts): the
 * events, each tagged with its build's index, go to that build's `emit`. Each build settles
 * on its own last event, as runBoxRuntime does for one.
 */
export async function runBoxBuilds(
  session: SshSession,
  builds: Array<{ request: BoxBuildRequest; emit: RuntimeEventHandler }>,
  options: RuntimeOptions = {},
): Promise<PromiseSettledResult<RuntimeEvent>[]> {
  const emits = builds.map((build) => build.emit);
  const args = boxBuildsArgv(builds.map((build) => build.request));
  const lasts: Array<RuntimeEvent | undefined> = emits.map(() => undefined);
  const toAll: RuntimeEventHandler = (event) => emits.forEach((emit) => emit(event));
  const decode = (line: string): ReturnType<typeof decodeBuildEvent> => {
    const decoded = decodeBuildEvent(line);
    if (decoded.buildIndex >= emits.length) throw new ProtocolError(`an event of build ${decoded.buildIndex} of ${emits.length}: ${line.slice(0, 120)}`);
    return decoded;
  };
  const ended = await execRuntime(session, args, decode, ({ buildIndex, event }) => {
    if (isLast(event)) lasts[buildIndex] = event;
    emits[buildIndex]!(event);
  }, toAll, options);
  return lasts.map((last): PromiseSettledResult<RuntimeEvent> => {
    try {
      return { status: 'fulfilled', value: settle(last, ended) };
    } catch (reason) {
      return { status: 'rejected', reason };
    }
  });
}

interface RuntimeOptions {
  /** NODE_COMPILE_CACHE for the box's Node: spares V8 parsing the 1.4 MB bundle again under emulation (0.3 s). */
  compileCache?: string;
}

interface RuntimeEnd {
  exit: ExecResult;
  stderrTail: string[];
  session: SshSession;
}

const isLast = (event: RuntimeEvent): boolean => event.type === 'build' || event.type === 'result' || event.type === 'error';

/**
 * Runs the runtime to its end: each stdout line decoded by `decode` goes to `onLine`; a line
 * that is not an event becomes a warning and stderr lines debug lines, both for `emitAll`.
 */
async function execRuntime<T>(
  session: SshSession,
  args: string[],
  decode: (line: string) => T,
  onLine: (decoded: T) => void,
  emitAll: RuntimeEventHandler,
  options: RuntimeOptions,
): Promise<RuntimeEnd> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stderrTail: string[] = [];
  forwardLines(stdout, (line) => {
    if (line.trim() === '') return;
    let decoded: T;
    try {
      decoded = decode(line);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      emitAll({ type: 'log', level: 'warn', message: `box runtime: ${error.message}` });
      return;
    }
    onLine(decoded);
  });
  forwardLines(stderr, (line) => {
    stderrTail.push(line);
    if (stderrTail.length > 20) stderrTail.shift();
    emitAll({ type: 'log', level: 'debug', message: `box runtime: ${line}` });
  });
  const env = options.compileCache ? `NODE_COMPILE_CACHE=${shellQuote([options.compileCache])} ` : '';
  const exit = await session.exec(`${env}exec ${shellQuote([BOX_NODE, BOX_RUNTIME_FILE, ...args])}`, { stdout, stderr });
  stdout.end();
  stderr.end();
  // Every line read (the last events included) before the outcome is decided.
  await Promise.all([finished(stdout), finished(stderr)]);
  return { exit, stderrTail, session };
}

/** The outcome of one run or build from its last event and how the runtime ended. */
function settle(last: RuntimeEvent | undefined, { exit, stderrTail, session }: RuntimeEnd): RuntimeEvent {
  if (last?.type === 'error') throw errorFromEvent(last);
  if (last && exit.exitCode !== null) return last;
  const dropped = session.connectionError();
  const how = dropped
    ? `lost its SSH connection (${dropped})`
    : exit.exitCode === null
      ? `was killed${exit.signal ? ` by ${exit.signal}` : ''}`
      : `exited ${exit.exitCode}`;
  throw new RuntimeVanishedError(`the box runtime ${how} without a result${stderrTail.length ? `:\n${stderrTail.slice(-5).join('\n')}` : ''}`, {
    hint: 'run with --debug for all its output; --box-console shows the box\'s console',
  });
}

/** The box runtime ended without its last event: killed, or its SSH channel or connection went. */
export class RuntimeVanishedError extends BuildFailedError {}

/** A RuntimeVanishedError with the box console's last lines (the kernel's errors, an OOM kill); other errors as they are. */
export async function withConsoleTail(error: unknown, consoleTail: () => Promise<string>): Promise<unknown> {
  if (!(error instanceof RuntimeVanishedError)) return error;
  const tail = await consoleTail();
  return new RuntimeVanishedError(`${error.message}\n${tail ? `console (last lines):\n${tail}` : 'console: nothing printed'}`, { ...(error.hint ? { hint: error.hint } : {}), cause: error });
}

/** The host-side error for a runtime's error event: same message, hint and exit code. */
export function errorFromEvent(event: ErrorEvent): KiwiError {
  const options = event.hint ? { hint: event.hint } : {};
  if (event.exitCode === 2) return new UsageError(event.message, options);
  if (event.exitCode === 3) return new EnvironmentError(event.message, options);
  return new BuildFailedError(event.message, options);
}
