import { execa } from 'execa';
import os from 'node:os';
import type { Readable } from 'node:stream';
import { forwardLines } from '../common/lines.js';
import { EnvironmentError } from '../common/errors.js';
import type { Reporter } from './reporter.js';
import { buildSandboxArgv, type SandboxPlan } from './sandbox-argv.js';
import { shellQuote } from '../common/shell-quote.js';
import { missingTool, TOOL_PATH } from './tools.js';

/**
 * Starts the sandbox chain (sandbox-argv.ts) and waits for the command. The command's
 * stdout and stderr are kiwi's own ("inherit": byte for byte, terminals included) or
 * become log events ("events": for --json and for the box, where stdout is the protocol).
 */
export interface SandboxOutcome {
  /** The command's exit code; 128 + signal number when a signal ended it. */
  exitCode: number;
  /** Set when the chain itself was ended by a signal (kiwi's cancel, or from outside). */
  signal?: string;
  wallMs: number;
}

export interface SandboxRunOptions {
  plan: SandboxPlan;
  output: 'inherit' | 'events';
  reporter: Reporter;
  signal?: AbortSignal;
  /** Told the container's PID 1 (a host pid) as soon as bwrap reports it. */
  onContainerPid: (pid: number) => void;
  /** Called every `sampleMs` while the command runs (peak-memory sampling). */
  onSample: () => void;
  sampleMs?: number;
}

export async function runSandbox(options: SandboxRunOptions): Promise<SandboxOutcome> {
  const { plan, reporter } = options;
  if (options.signal?.aborted) throw options.signal.reason;
  const argv = buildSandboxArgv(plan);
  reporter.debug(`run ${shellQuote(argv)}`, 'run');
  const piped = options.output === 'events';
  const started = Date.now();
  const subprocess = execa(argv[0]!, argv.slice(1), {
    stdio: ['inherit', piped ? 'pipe' : 'inherit', piped ? 'pipe' : 'inherit', 'pipe'],
    buffer: false,
    reject: false,
    extendEnv: false,
    env: { PATH: TOOL_PATH },
  });
  if (piped) {
    forwardLines(subprocess.stdout!, (line) => reporter.emit({ type: 'log', level: 'info', stream: 'stdout', message: line }));
    forwardLines(subprocess.stderr!, (line) => reporter.emit({ type: 'log', level: 'info', stream: 'stderr', message: line }));
  }
  let childPid: number | undefined;
  let statusExit: number | undefined;
  forwardLines(subprocess.stdio[3] as Readable, (line) => {
    const status = parseStatus(line);
    if (status['child-pid'] !== undefined) {
      childPid = status['child-pid'];
      reporter.debug(`container PID 1 is host pid ${childPid}`, 'run');
      options.onContainerPid(childPid);
    }
    if (status['exit-code'] !== undefined) statusExit = status['exit-code'];
  });
  const sampler = setInterval(options.onSample, options.sampleMs ?? 200);
  // On cancel, PID 1 is killed first, so that bwrap reaps it and exits: killing bwrap
  // first would leave PID 1 a zombie for the machine's init to reap, whenever it does.
  // The kernel then kills the rest of the PID namespace. bwrap itself is the fallback.
  const cancel = (): void => {
    if (childPid !== undefined) killQuietly(childPid);
    setTimeout(() => subprocess.kill('SIGKILL'), childPid !== undefined ? 2000 : 0).unref();
  };
  options.signal?.addEventListener('abort', cancel, { once: true });
  let result;
  try {
    result = await subprocess;
  } finally {
    clearInterval(sampler);
    options.signal?.removeEventListener('abort', cancel);
  }
  const wallMs = Date.now() - started;
  if ((result.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') throw missingTool(argv[0]!, result.cause);
  if (options.signal?.aborted) throw options.signal.reason;
  if (result.signal) {
    return { exitCode: 128 + (os.constants.signals[result.signal] ?? 0), signal: result.signal, wallMs };
  }
  if (childPid === undefined) {
    throw new EnvironmentError(`the container could not be set up (exit ${result.exitCode}) before the command started`, {
      hint: 'the message above is from mount or bwrap; run with --debug to see every namespace and mount step',
    });
  }
  return { exitCode: statusExit ?? result.exitCode ?? 1, wallMs };
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone: that is what was wanted.
  }
}

/** bwrap's --json-status-fd writes one JSON object per line. */
function parseStatus(line: string): { 'child-pid'?: number; 'exit-code'?: number } {
  try {
    return JSON.parse(line) as { 'child-pid'?: number; 'exit-code'?: number };
  } catch {
    return {};
  }
}

