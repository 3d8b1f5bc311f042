import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IN_USE_DIR, liveUsers, markInUse } from '../../src/common/in-use.js';
import { processIdentity } from '../../src/common/process-identity.js';

describe('in-use marks', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiwi-in-use-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('marks a directory for this process until released', async () => {
    const use = await markInUse(dir);
    expect(await liveUsers(dir)).toEqual([processIdentity()]);
    await use.release();
    expect(await liveUsers(dir)).toEqual([]);
  });

  it('keeps a directory marked while another use by the same process goes on (two builds, two VMs of a box)', async () => {
    const first = await markInUse(dir);
    const second = await markInUse(dir);
    expect(await liveUsers(dir)).toEqual([processIdentity()]);
    await first.release();
    expect(await liveUsers(dir)).toEqual([processIdentity()]);
    await second.release();
    expect(await liveUsers(dir)).toEqual([]);
  });

  it('clears the marks of processes that died when it marks', async () => {
    const marks = path.join(dir, IN_USE_DIR);
    fs.mkdirSync(marks);
    // pid 1 with another start time: a process that ran once and is gone.
    for (const dead of ['1-0', '4194305-12345.1', 'not-an-identity']) fs.writeFileSync(path.join(marks, dead), '');
    const use = await markInUse(dir);
    expect(fs.readdirSync(marks)).toEqual([expect.stringMatching(new RegExp(`^${processIdentity()}\\.\\d+$`))]);
    await use.release();
  });
});
