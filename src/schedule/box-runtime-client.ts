import { PassThrough } from 'node:stream';
import { finished } from 'node:stream/promises';
import { BuildFailedError, EnvironmentError, UsageError, type KiwiError } from '../common/errors.js';
import { forwardLines } from '../common/lines.js';
import { shellQuote } from '../common/shell-quote.js';
import { decodeEvent, ProtocolError, type ErrorEvent, type RuntimeEvent, type RuntimeEventHandler } from '../protocol/events.js';
import type { SshSession } from '../transport/ssh-session.js';

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
export async function runBoxRuntime(session: SshSession, args: string[], emit: RuntimeEventHandler, options: { compileCache?: string } = {}): Promise<RuntimeEvent> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let last: RuntimeEvent | undefined;
  const stderrTail: string[] = [];
  forwardLines(stdout, (line) => {
    if (line.trim() === '') return;
    let event: RuntimeEvent;
    try {
      event = decodeEvent(line);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      emit({ type: 'log', level: 'warn', message: `box runtime: ${error.message}` });
      return;
    }
    if (event.type === 'build' || event.type === 'result' || event.type === 'error') last = event;
    emit(event);
  });
  forwardLines(stderr, (line) => {
    stderrTail.push(line);
    if (stderrTail.length > 20) stderrTail.shift();
    emit({ type: 'log', level: 'debug', message: `box runtime: ${line}` });
  });
  // Node's compile cache spares V8 parsing the 1.4 MB bundle again under emulation (0.3 s).
  const env = options.compileCache ? `NODE_COMPILE_CACHE=${shellQuote([options.compileCache])} ` : '';
  const exit = await session.exec(`${env}exec ${shellQuote([BOX_NODE, BOX_RUNTIME_FILE, ...args])}`, { stdout, stderr });
  stdout.end();
  stderr.end();
  // Every line read (the last event included) before the outcome is decided.
  await Promise.all([finished(stdout), finished(stderr)]);
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
