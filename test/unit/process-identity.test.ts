import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bootId } from '../../src/common/boot-id.js';
import { isAlive, processIdentity } from '../../src/common/process-identity.js';

/** This process's pid and start tick, as /proc/self/stat gives them. */
function pidAndStart(): string {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  return `${process.pid}-${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}`;
}

/** A boot id prefix that is not this boot's. */
function otherBoot(): string {
  const mine = bootId().slice(0, 8);
  return mine === '00000000' ? '11111111' : '00000000';
}

describe('process identity', () => {
  it('names this process by pid, start tick and boot', () => {
    expect(bootId()).toMatch(/^[0-9a-f-]{36}$/);
    expect(processIdentity()).toBe(`${pidAndStart()}-${bootId().slice(0, 8)}`);
    expect(isAlive(processIdentity()!)).toBe(true);
  });

  it('does not take a process of another boot for this one, though pid and start tick match', () => {
    expect(isAlive(`${pidAndStart()}-${otherBoot()}`)).toBe(false);
  });

  it('reads an identity without a boot (an older kiwi\'s) as of this boot', () => {
    expect(isAlive(pidAndStart())).toBe(true);
    expect(isAlive(`${process.pid}-1`)).toBe(false);
  });

  it('takes nothing else for a live process', () => {
    for (const text of ['', String(process.pid), `${pidAndStart()}-xyz`, `${pidAndStart()}-${bootId()}`]) expect(isAlive(text), text).toBe(false);
  });
});
