import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { processIdentity } from '../../src/common/process-identity.js';
import type { RuntimeEvent } from '../../src/protocol/events.js';
import { Reporter } from '../../src/runtime/reporter.js';
import { createRun, defaultStateRoot, readRunState, runDirs, writeRunState } from '../../src/runtime/state-dir.js';
import { cleanStaleRuns } from '../../src/runtime/teardown.js';
import { tempDir } from '../fixtures/temp-dir.js';

describe('run state and stale cleanup', () => {
  let root: string;
  const events: RuntimeEvent[] = [];
  const reporter = new Reporter((event) => events.push(event));

  beforeEach(() => {
    root = tempDir('kiwi-state-unit-');
    events.length = 0;
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('writes the state file before the layers, owned by this process', () => {
    const { state, dirs } = createRun(root, false);
    expect(readRunState(dirs.stateFile)).toEqual(state);
    expect(state.owner).toBe(processIdentity());
    for (const dir of [dirs.upper, dirs.work, dirs.merged]) expect(fs.statSync(dir).isDirectory()).toBe(true);
  });

  it('removes runs whose owner is gone and orphaned directories, keeps live runs', async () => {
    const live = createRun(root, false);
    const dead = createRun(root, false);
    writeRunState(dead.dirs, { ...dead.state, owner: '999999999-1' });
    fs.writeFileSync(path.join(dead.dirs.upper, 'file'), 'x');
    // What overlayfs leaves in work/: a directory nobody may enter.
    fs.mkdirSync(path.join(dead.dirs.work, 'work'), { mode: 0 });
    const orphan = runDirs(root, 'abcdefabcdef');
    fs.mkdirSync(orphan.upper, { recursive: true });

    expect(await cleanStaleRuns(root, reporter)).toBe(2);
    expect(fs.readdirSync(root).sort()).toEqual([live.state.id, `${live.state.id}.json`].sort());
    expect(events).toContainEqual(expect.objectContaining({ type: 'log', message: expect.stringContaining(`cleaning stale run ${dead.state.id}`) }));
  });

  it('keeps a run that another process started while the listing was taken (its directory listed, its state file not)', async () => {
    const starting = createRun(root, false);
    const listing = [starting.state.id];
    const readdir = vi.spyOn(fs, 'readdirSync').mockImplementationOnce((() => listing) as unknown as typeof fs.readdirSync);
    try {
      expect(await cleanStaleRuns(root, reporter)).toBe(0);
    } finally {
      readdir.mockRestore();
    }
    expect(fs.existsSync(starting.dirs.upper)).toBe(true);
  });

  it('has nothing to clean in a missing root', async () => {
    expect(await cleanStaleRuns(path.join(root, 'none'), reporter)).toBe(0);
  });

  it('puts state on disk for root and in the user\'s own directories otherwise', () => {
    expect(defaultStateRoot({ KIWI_STATE_DIR: '/x' }, 0)).toBe('/x');
    expect(defaultStateRoot({}, 0)).toBe('/var/lib/kiwi/containers');
    expect(defaultStateRoot({ XDG_STATE_HOME: '/home/u/.state' }, 1000)).toBe('/home/u/.state/kiwi/containers');
    expect(defaultStateRoot({ HOME: '/nonexistent' }, 65534)).toBe('/var/tmp/kiwi-65534/containers');
  });
});
