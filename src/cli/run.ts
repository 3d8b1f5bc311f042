import type { Command } from 'commander';
import fs from 'node:fs';
import { KiwiError } from '../common/errors.js';
import { formatBytes, formatDuration } from '../common/units.js';
import { encodeEvent, type RuntimeEvent, type RuntimeEventHandler } from '../protocol/events.js';
import { runContainer } from '../runtime/container.js';
import { expandCpuList } from '../runtime/quantities.js';
import { Reporter } from '../runtime/reporter.js';
import { resolveRunOptions, type RawRunOptions } from '../runtime/run-options.js';
import { cliState, runCommand } from './run-command.js';

interface RunOptions extends RawRunOptions {
  json?: boolean;
  quiet?: boolean;
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run a command in a container over a root tree (overlayfs, namespaces, cgroup limits)')
    .argument('[command...]', 'the command and its arguments, after --')
    .option('--root <dir>', 'root tree to run in (read-only lower layer; left unchanged)')
    .option('--image <file>', 'root tarball (.tar.xz) to unpack and run in')
    .option('--memory <size>', 'memory limit, e.g. 512M (K, M, G are powers of 1024)')
    .option('--swap <size>', 'swap allowed on top of --memory, e.g. 0')
    .option('--cpus <n>', 'CPU time limit in CPUs, e.g. 1.5')
    .option('--pids <n>', 'maximum number of processes')
    .option('--cpuset <list>', 'CPUs the container may use, e.g. 0 or 0-1')
    .option('--network <mode>', 'box: share this machine\'s network; none: loopback only', 'box')
    .option('--hostname <name>', 'host name inside the container', 'kiwi')
    .option('--bind <src:dst[:ro]>', 'bind a host path into the container (repeatable)', collect, [])
    .option('--workdir <dir>', 'working directory inside the container', '/')
    .option('--commit <dir>', 'after a successful run, save the merged root tree to this new directory')
    .option('--json', 'print the runtime\'s events as JSON lines on stdout (the command\'s output becomes log events)')
    .option('--quiet', 'print nothing but the command\'s own output')
    .addHelpText('after', '\nExample:\n  kiwi run --root ./rootfs --memory 512M --network none -- /bin/sh -c "echo hello"')
    .action((command: string[], options: RunOptions) =>
      runCommand(async (signal) => {
        const emit: RuntimeEventHandler = options.json ? (event) => process.stdout.write(encodeEvent(event)) : renderPlain(options.quiet ? 'quiet' : cliState.debug ? 'debug' : 'normal');
        try {
          const spec = resolveRunOptions(options, command, process.cwd(), onlineCpus());
          const result = await runContainer(spec, { reporter: new Reporter(emit), signal, output: options.json ? 'events' : 'inherit' });
          emit(result);
          return result.exitCode;
        } catch (error) {
          if (options.json && error instanceof KiwiError) {
            emit({ type: 'error', message: error.message, exitCode: error.exitCode, ...(error.hint ? { hint: error.hint } : {}) });
          }
          throw error;
        }
      }),
    );
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function onlineCpus(): number[] | undefined {
  try {
    return expandCpuList(fs.readFileSync('/sys/devices/system/cpu/online', 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Plain-line rendering on stderr, so stdout stays the command's. normal: warnings, long
 * steps and the summary; debug: every event, timestamped; quiet: nothing.
 */
export function renderPlain(mode: 'quiet' | 'normal' | 'debug', write: (line: string) => void = (line) => process.stderr.write(line)): RuntimeEventHandler {
  return (event: RuntimeEvent) => {
    if (mode === 'quiet') return;
    const line = formatEvent(event, mode === 'debug');
    if (line !== undefined) write(mode === 'debug' ? `${new Date().toISOString().slice(11, 23)} ${line}\n` : `${line}\n`);
  };
}

export function formatEvent(event: RuntimeEvent, debug: boolean): string | undefined {
  switch (event.type) {
    case 'step':
      // Without --debug a failed step is told once, by the error line that follows.
      if (debug) return `kiwi: ${event.id} ${event.state}${event.message ? `: ${event.message}` : ''}`;
      return event.state === 'start' && (event.id === 'image' || event.id === 'commit') ? `kiwi: ${event.message ?? event.id}` : undefined;
    case 'log':
      if (event.stream) return event.message;
      if (event.level === 'debug' && !debug) return undefined;
      return `kiwi: ${event.level === 'warn' ? 'warning: ' : ''}${event.message}`;
    case 'progress':
      return debug ? `kiwi: ${event.id} ${event.current}${event.total !== undefined ? `/${event.total}` : ''} ${event.unit ?? ''}`.trimEnd() : undefined;
    case 'result':
      return formatResult(event);
    case 'error':
      return undefined;
  }
}

/** "kiwi: exit 0 · 1.2s · cpu 0.8s · peak memory 3.1 MiB", then why a limit killed it. */
export function formatResult(event: Extract<RuntimeEvent, { type: 'result' }>): string {
  const parts = [`exit ${event.exitCode}${event.signal ? ` (${event.signal})` : ''}`, formatDuration(event.wallMs / 1000)];
  if (event.usage.cpuUsec !== null) parts.push(`cpu ${formatDuration(event.usage.cpuUsec / 1e6)}`);
  if (event.usage.memoryPeakBytes !== null) parts.push(`peak memory ${formatBytes(event.usage.memoryPeakBytes)}`);
  if (event.committed) parts.push(`committed to ${event.committed}`);
  return [`kiwi: ${parts.join(' · ')}`, ...(event.killedBy ? [`kiwi: ${event.killedBy}`] : [])].join('\n');
}
