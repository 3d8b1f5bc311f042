import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireLock, ifLockFree, liveLockHolder, tryAcquireLock, withLock } from '../../src/common/lock.js';
import { isAlive, processIdentity } from '../../src/common/process-identity.js';
import { tempDir } from '../fixtures/box-fixture.js';
import { waitFor } from '../fixtures/wait-for.js';

describe('lock', () => {
  it('is exclusive until released', async () => {
    const file = path.join(tempDir(), 'a.lock');
    const held = await acquireLock(file);
    expect(fs.readFileSync(file, 'utf8')).toBe(processIdentity());
    expect(await tryAcquireLock(file)).toBeUndefined();
    await held.release();
    expect(fs.existsSync(file)).toBe(false);
    const again = await tryAcquireLock(file);
    expect(again).toBeDefined();
    await again?.release();
  });

  it('names a live holder without taking the lock, and none for a free lock or a dead holder', async () => {
    const file = path.join(tempDir(), 'peek.lock');
    let seen = '';
    expect(liveLockHolder(file)).toBeUndefined();
    const held = await acquireLock(file);
    expect(liveLockHolder(file)).toBe(processIdentity());
    expect(await tryAcquireLock(file, (holder) => (seen = holder))).toBeUndefined();
    expect(seen).toBe(processIdentity());
    await held.release();
    fs.writeFileSync(file, `${process.pid}-1`);
    expect(liveLockHolder(file)).toBeUndefined();
    expect(fs.existsSync(file)).toBe(true);
  });

  it('breaks a lock whose owner died, even when its pid was reused', async () => {
    const file = path.join(tempDir(), 'b.lock');
    // Our own pid with a start time that is not ours: a reused pid.
    fs.writeFileSync(file, `${process.pid}-1`);
    expect(isAlive(`${process.pid}-1`)).toBe(false);
    const held = await tryAcquireLock(file);
    expect(held).toBeDefined();
    await held?.release();
  });

  it('breaks a lock of an earlier boot whose pid and start tick this process repeats', async () => {
    // A box's cache disk keeps the locks of a killed VM, and the next boot can give its
    // runtime the same pid at the same tick: only the boot tells them apart.
    const file = path.join(tempDir(), 'boot.lock');
    const [pid, start, boot] = processIdentity()!.split('-');
    fs.writeFileSync(file, `${pid}-${start}-${boot === '00000000' ? '11111111' : '00000000'}`);
    const held = await tryAcquireLock(file);
    expect(held).toBeDefined();
    expect(fs.readFileSync(file, 'utf8')).toBe(processIdentity());
    await held?.release();
  });

  it('breaks a lock whose owner was killed but not yet reaped (a zombie)', async () => {
    // sh starts a short child, then becomes a sleep that never reaps it when it ends.
    const parent = spawn('sh', ['-c', 'sleep 0.1 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const [line] = (await once(parent.stdout, 'data')) as [Buffer];
      const zombie = Number(line.toString().trim());
      expect(await waitFor(() => fs.readFileSync(`/proc/${zombie}/stat`, 'utf8').includes(') Z '))).toBe(true);
      const identity = processIdentity(zombie)!;
      expect(isAlive(identity)).toBe(false);
      const file = path.join(tempDir(), 'z.lock');
      fs.writeFileSync(file, identity);
      const held = await tryAcquireLock(file);
      expect(held).toBeDefined();
      await held?.release();
    } finally {
      parent.kill();
    }
  });

  it('waits for a live holder and tells who it is', async () => {
    const file = path.join(tempDir(), 'c.lock');
    const first = await acquireLock(file);
    const waits: string[] = [];
    const second = acquireLock(file, { pollMs: 10, onWait: (holder) => waits.push(holder) });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(waits).toEqual([processIdentity()]);
    await first.release();
    await (await second).release();
  });
  it('withLock holds the lock while its work runs and releases it when the work fails', async () => {
    const file = path.join(tempDir(), 'd.lock');
    await expect(
      withLock(file, async () => {
        expect(fs.readFileSync(file, 'utf8')).toBe(processIdentity());
        throw new Error('work failed');
      }),
    ).rejects.toThrow('work failed');
    expect(fs.existsSync(file)).toBe(false);
  });

  it('ifLockFree runs the work only when nobody holds the lock', async () => {
    const file = path.join(tempDir(), 'e.lock');
    const held = await acquireLock(file);
    let ran = false;
    expect(await ifLockFree(file, async () => (ran = true))).toBeUndefined();
    expect(ran).toBe(false);
    await held.release();
    expect(await ifLockFree(file, () => Promise.resolve('done'))).toBe('done');
    expect(fs.existsSync(file)).toBe(false);
  });
});
