import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { Slots } from '../../src/common/slots.js';

describe('Slots', () => {
  it('runs at most its size at once, in the order they came, and passes results and errors through', async () => {
    const slots = new Slots(2);
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const task = (index: number) => async (): Promise<number> => {
      started.push(index);
      running += 1;
      most = Math.max(most, running);
      await sleep(5);
      running -= 1;
      if (index === 3) throw new Error('task 3 failed');
      return index * 10;
    };
    const results = await Promise.allSettled([0, 1, 2, 3, 4, 5].map((index) => slots.run(task(index))));
    expect(most).toBe(2);
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
    expect(results.map((result) => (result.status === 'fulfilled' ? result.value : (result.reason as Error).message))).toEqual([0, 10, 20, 'task 3 failed', 40, 50]);
  });

  it('keeps the bound when a caller arrives just as a slot frees while another waits', async () => {
    const slots = new Slots(1);
    let running = 0;
    let most = 0;
    const task = async (): Promise<void> => {
      running += 1;
      most = Math.max(most, running);
      await sleep(5);
      running -= 1;
    };
    const first = slots.run(task);
    const waiter = slots.run(task);
    // Arrives right after the first task ends, before the waiter has resumed.
    const late = first.then(() => slots.run(task));
    await Promise.all([first, waiter, late]);
    expect(most).toBe(1);
  });
});
