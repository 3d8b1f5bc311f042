import { describe, expect, it } from 'vitest';
import { shownLogLine } from '../../src/ui/build-progress.js';

describe('which log lines a build\'s progress task shows', () => {
  const output = { type: 'log', level: 'debug', message: 'Setting up libc6 (2.36-9)', step: 'bootstrap' } as const;

  it('shows the current step\'s output when drawn live, and not in CI logs', () => {
    expect(shownLogLine(output, 'bootstrap', true)).toBe(true);
    expect(shownLogLine(output, 'bootstrap', false)).toBe(false);
  });

  it('leaves out output of another step and debug lines of no step', () => {
    expect(shownLogLine(output, 'packages', true)).toBe(false);
    expect(shownLogLine({ type: 'log', level: 'debug', message: 'box runtime: started' }, 'bootstrap', true)).toBe(false);
  });

  it('always shows warnings, notes and a container command\'s own output', () => {
    expect(shownLogLine({ type: 'log', level: 'warn', message: 'repository unsigned' }, 'sources', false)).toBe(true);
    expect(shownLogLine({ type: 'log', level: 'info', message: 'layer cached' }, 'sources', false)).toBe(true);
    expect(shownLogLine({ type: 'log', level: 'info', stream: 'stdout', message: 'hello' }, 'run', false)).toBe(true);
  });
});
