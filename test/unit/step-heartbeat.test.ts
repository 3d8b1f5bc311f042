import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StepHeartbeat } from '../../src/ui/step-heartbeat.js';

describe('a running step told once a minute in plain output', () => {
  let lines: string[];
  let heartbeat: StepHeartbeat;
  beforeEach(() => {
    vi.useFakeTimers();
    lines = [];
    heartbeat = new StepHeartbeat((line) => lines.push(line), 60_000);
  });
  afterEach(() => {
    heartbeat.stop();
    vi.useRealTimers();
  });

  it('says nothing while no step runs', () => {
    vi.advanceTimersByTime(180_000);
    expect(lines).toEqual([]);
  });

  it('tells the step, how long it has run and its latest output line', () => {
    heartbeat.onEvent({ type: 'step', id: 'bootstrap', state: 'start', message: 'bootstrap layer' });
    vi.advanceTimersByTime(60_000);
    heartbeat.onEvent({ type: 'log', level: 'debug', message: 'Setting up libc6 (2.36-9)', step: 'bootstrap' });
    heartbeat.onEvent({ type: 'log', level: 'debug', message: 'box runtime: not the step\'s' });
    vi.advanceTimersByTime(60_000);
    expect(lines).toEqual(['bootstrap running for 1m00s', 'bootstrap running for 2m00s: Setting up libc6 (2.36-9)']);
  });

  it('stops telling a step once it is done, and everything once the build ends', () => {
    heartbeat.onEvent({ type: 'step', id: 'config', state: 'start' });
    heartbeat.onEvent({ type: 'step', id: 'run', state: 'done' });
    vi.advanceTimersByTime(60_000);
    heartbeat.onEvent({ type: 'step', id: 'config', state: 'done' });
    vi.advanceTimersByTime(60_000);
    heartbeat.onEvent({ type: 'step', id: 'archive', state: 'start' });
    heartbeat.onEvent({ type: 'error', message: 'config.sh failed', exitCode: 1 });
    vi.advanceTimersByTime(120_000);
    expect(lines).toEqual(['config running for 1m00s']);
  });

  it('counts each step from its own start', () => {
    heartbeat.onEvent({ type: 'step', id: 'bootstrap', state: 'start' });
    vi.advanceTimersByTime(90_000);
    heartbeat.onEvent({ type: 'step', id: 'bootstrap', state: 'done' });
    heartbeat.onEvent({ type: 'step', id: 'compress', state: 'start' });
    vi.advanceTimersByTime(50_000);
    expect(lines).toEqual(['bootstrap running for 1m00s']);
    vi.advanceTimersByTime(10_000);
    expect(lines).toEqual(['bootstrap running for 1m00s', 'compress running for 1m00s']);
  });
});
