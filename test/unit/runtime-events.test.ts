import { describe, expect, it } from 'vitest';
import { formatEvent, formatResult, renderPlain } from '../../src/ui/runtime-events.js';
import { decodeBuildEvent, decodeEvent, encodeBuildEvent, encodeEvent, ProtocolError, type ResultEvent, type RuntimeEvent } from '../../src/protocol/events.js';
import { describeKill } from '../../src/runtime/container.js';
import type { ContainerSpec } from '../../src/runtime/spec.js';

const usage = { memoryPeakBytes: 33554432, cpuUsec: 1500000, cpuUserUsec: 1000000, cpuSystemUsec: 500000, oomKills: 0, pidsLimitHits: 0 };

describe('event protocol', () => {
  it('round-trips every event type as one line', () => {
    const events: RuntimeEvent[] = [
      { type: 'step', id: 'cgroup', state: 'start', message: 'limits' },
      { type: 'log', level: 'info', stream: 'stdout', message: 'hi' },
      { type: 'progress', id: 'image', current: 5, total: 10, unit: 'bytes' },
      { type: 'result', exitCode: 0, wallMs: 12, usage },
      { type: 'error', message: 'no', exitCode: 3, hint: 'do' },
    ];
    for (const event of events) {
      const line = encodeEvent(event);
      expect(line.endsWith('\n')).toBe(true);
      expect(line.slice(0, -1)).not.toContain('\n');
      expect(decodeEvent(line)).toEqual(event);
    }
  });

  it('carries the build an event belongs to when a runtime runs several (a pack)', () => {
    const event: RuntimeEvent = { type: 'step', id: 'packages', state: 'done' };
    expect(decodeBuildEvent(encodeBuildEvent(3, event))).toEqual({ buildIndex: 3, event });
    expect(() => decodeBuildEvent(encodeEvent(event))).toThrow(/without a build index/);
    expect(() => decodeBuildEvent('{"type":"step","id":"x","state":"done","buildIndex":-1}')).toThrow(/without a build index/);
  });

  it('rejects lines that are not events', () => {
    expect(() => decodeEvent('hello')).toThrow(ProtocolError);
    expect(() => decodeEvent('{"type":"bogus"}')).toThrow(/not a runtime event/);
    expect(() => decodeEvent('{"type":"step","id":"x"}')).toThrow(/without state/);
  });
});

describe('plain rendering', () => {
  it('shows warnings and the summary; debug lines only with --debug; nothing with --quiet', () => {
    const lines: string[] = [];
    const events: RuntimeEvent[] = [
      { type: 'log', level: 'debug', message: 'cgroup write x = 1' },
      { type: 'log', level: 'warn', message: 'no cgroup' },
      { type: 'step', id: 'run', state: 'start', message: 'true' },
      { type: 'result', exitCode: 0, wallMs: 1200, usage },
    ];
    const normal = renderPlain('normal', (line) => lines.push(line));
    events.forEach(normal);
    expect(lines).toEqual(['kiwi: warning: no cgroup\n', 'kiwi: exit 0 · 1.2s · cpu 1.5s · peak memory 32.0 MiB\n']);
    const quiet: string[] = [];
    events.forEach(renderPlain('quiet', (line) => quiet.push(line)));
    expect(quiet).toEqual([]);
    expect(formatEvent(events[0]!, true)).toBe('kiwi: cgroup write x = 1');
  });

  it('says which limit killed the command', () => {
    const spec = { limits: { memoryBytes: 512 * 1024 ** 2, pids: 32 } } as ContainerSpec;
    const killedBy = describeKill(spec, { ...usage, oomKills: 1, pidsLimitHits: 3 });
    expect(killedBy).toBe('killed: memory limit 512M reached (1 process OOM-killed); pids limit 32 reached: 3 forks refused');
    expect(describeKill(spec, usage)).toBeUndefined();
    const result: ResultEvent = { type: 'result', exitCode: 137, wallMs: 300, usage, killedBy: killedBy! };
    expect(formatResult(result).split('\n')[1]).toBe(`kiwi: ${killedBy}`);
  });
});
