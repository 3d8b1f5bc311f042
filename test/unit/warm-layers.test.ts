import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { warmLayers } from '../../src/builder/steps/warm-layers.js';
import { tempDir } from '../fixtures/temp-dir.js';
import { waitFor } from '../fixtures/wait-for.js';

describe('layers read ahead of the archive', () => {
  const layer = (root: string, name: string) => {
    const dir = path.join(root, name);
    fs.mkdirSync(path.join(dir, 'usr/bin'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'usr/bin/tool'), 'x'.repeat(10_000));
    return dir;
  };

  it('each layer once since boot: a second build of a pack reads only what the first did not', async () => {
    const root = tempDir('kiwi-warm-');
    const marks = path.join(root, 'marks');
    const [packages, bootstrap, other] = [layer(root, 'packages'), layer(root, 'bootstrap'), layer(root, 'other')];
    const first = warmLayers([packages, bootstrap], marks);
    expect(first.layers).toEqual([packages, bootstrap]);
    await first.done;
    const second = warmLayers([other, bootstrap], marks);
    expect(second.layers).toEqual([other]);
    await second.done;
    expect(warmLayers([packages, other], marks).layers).toEqual([]);
    expect(fs.readdirSync(marks)).toHaveLength(3);
  });

  it('stop ends the reading at once, find and the cat it runs', async () => {
    const root = tempDir('kiwi-warm-');
    // A sparse file of 256 GiB: reading it takes minutes.
    const huge = path.join(root, 'huge');
    fs.mkdirSync(huge);
    fs.writeFileSync(path.join(huge, 'zeros'), '');
    fs.truncateSync(path.join(huge, 'zeros'), 256 * 1024 ** 3);
    const warming = warmLayers([huge], path.join(root, 'marks'));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(spawnSync('pgrep', ['-f', `cat ${huge}/zeros`]).status).toBe(0);
    warming.stop();
    await warming.done;
    // pgrep's exit code 1: no such process (a killed cat takes a moment to go).
    expect(await waitFor(() => spawnSync('pgrep', ['-f', `cat ${huge}/zeros`]).status === 1, 2000)).toBe(true);
  });

  it('without a place for its marks, reads nothing and does not fail', async () => {
    const root = tempDir('kiwi-warm-');
    fs.writeFileSync(path.join(root, 'file'), '');
    const warming = warmLayers([layer(root, 'l')], path.join(root, 'file', 'marks'));
    expect(warming.layers).toEqual([]);
    await warming.done;
  });
});
