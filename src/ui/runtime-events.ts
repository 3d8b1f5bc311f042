import { formatBytes, formatDuration } from '../common/units.js';
import type { RuntimeEvent, RuntimeEventHandler } from '../protocol/events.js';

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
    case 'build':
      // Told once by the command itself (the error line, the "built" line).
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
