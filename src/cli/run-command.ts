import os from 'node:os';
import { CommanderError } from 'commander';
import { asPermissionError, KiwiError } from '../common/errors.js';

/** Set by --debug on any command: show stacks and causes. */
export const cliState = { debug: false };

/**
 * Runs one command's action with an AbortSignal that fires on Ctrl-C, SIGTERM or SIGHUP (a
 * second signal exits at once) or when stdout or stderr is closed under it (`| head`, a
 * terminal gone), and turns what it throws into a message and an exit code. This is the only
 * place kiwi decides how it exits.
 */
export async function runCommand(action: (signal: AbortSignal) => Promise<number | void>): Promise<never> {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(exitCodeOf(signal));
    controller.abort(new InterruptedError(signal));
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
  // Every later write fails the same way: stop once, clean up, and keep writing into nothing.
  const onOutputLost = (): void => {
    if (!controller.signal.aborted) controller.abort(new InterruptedError('SIGPIPE'));
  };
  process.stdout.on('error', onOutputLost);
  process.stderr.on('error', onOutputLost);
  let code: number;
  try {
    code = (await action(controller.signal)) ?? 0;
    // An action that wound down after Ctrl-C exits as interrupted, not with its own code.
    if (controller.signal.aborted) code = reportError(controller.signal.reason);
  } catch (error) {
    code = reportError(controller.signal.aborted ? controller.signal.reason : error);
  }
  process.exit(code);
}

export class InterruptedError extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(signal === 'SIGPIPE' ? 'stopped: its output was closed' : `interrupted by ${signal}`);
  }
}

/** A shell's exit code for a process ended by `signal`: 130 for SIGINT, 143 for SIGTERM. */
function exitCodeOf(signal: NodeJS.Signals): number {
  return 128 + os.constants.signals[signal];
}

/** Prints `error: message` and the hint on stderr; returns the exit code for it. */
export function reportError(error: unknown): number {
  if (error instanceof InterruptedError) {
    process.stderr.write(`kiwi: ${error.message}; cleaned up\n`);
    return exitCodeOf(error.signal);
  }
  if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
  // A path this user may not write is theirs to fix, not a kiwi bug.
  const known = error instanceof KiwiError ? error : asPermissionError(error);
  if (known) {
    process.stderr.write(`error: ${known.message}\n`);
    if (known.hint) process.stderr.write(`hint: ${known.hint}\n`);
    if (cliState.debug) process.stderr.write(`${formatCauses(known)}\n`);
    return known.exitCode;
  }
  process.stderr.write(`error: internal error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.stderr.write(cliState.debug ? `${formatCauses(error)}\n` : 'hint: run with --debug for the stack trace and report it\n');
  return 1;
}

function formatCauses(error: unknown): string {
  const parts: string[] = [];
  for (let current: unknown = error; current; current = (current as Error).cause) {
    parts.push(current instanceof Error ? (current.stack ?? current.message) : String(current));
    if (!(current instanceof Error)) break;
  }
  return parts.join('\ncaused by: ');
}
