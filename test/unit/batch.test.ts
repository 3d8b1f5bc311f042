import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { BuildFailedError, UsageError } from '../../src/common/errors.js';
import type { BuildEvent } from '../../src/protocol/events.js';
import { runBatch, type BatchEntry } from '../../src/schedule/batch.js';
import { loadBatchFile } from '../../src/schedule/batch-file.js';
import type { BoxBuildJob } from '../../src/schedule/box-build.js';
import { concurrentBuilds } from '../../src/schedule/resource-budget.js';
import { summaryTable } from '../../src/ui/build-progress.js';
import { tempDir } from '../fixtures/temp-dir.js';

function batchFile(text: string): string {
  const dir = tempDir();
  const file = path.join(dir, 'batch.yaml');
  fs.writeFileSync(file, text);
  return file;
}

describe('batch file', () => {
  it('resolves each build: paths against the file\'s directory, type, profiles and further args as BUILD ARGS', () => {
    const file = batchFile('builds:\n  - description: desc/min\n    target-dir: out/min\n    type: tbz\n    profiles: [a, b]\n    args: [--add-package, vim]\n    box-memory: 3\n    sharing: virtiofs\n  - name: c\n    box: other\n    arch: aarch64\n    description: /abs/c\n    target-dir: out/c\n');
    const dir = path.dirname(file);
    const [min, c] = loadBatchFile(file);
    expect(min).toEqual({
      name: 'min',
      box: 'debian',
      arch: undefined,
      buildArgs: ['--description', path.join(dir, 'desc/min'), '--target-dir', path.join(dir, 'out/min'), '--type', 'tbz', '--profile', 'a', '--profile', 'b', '--add-package', 'vim'],
      targetDir: path.join(dir, 'out/min'),
      boxMemory: '3',
      boxCpus: undefined,
      sharing: 'virtiofs',
    });
    expect(c).toMatchObject({ name: 'c', box: 'other', arch: 'aarch64', buildArgs: ['--description', '/abs/c', '--target-dir', path.join(dir, 'out/c')] });
  });

  it('says what is wrong with a bad file, as a usage error', () => {
    expect(() => loadBatchFile(batchFile('builds: []\n'))).toThrow(/lists no build/);
    expect(() => loadBatchFile(batchFile('builds:\n  - description: d\n'))).toThrow(/target-dir/);
    expect(() => loadBatchFile(batchFile('builds:\n  - description: d\n    target-dir: t\n    colour: red\n'))).toThrow(/colour/);
    expect(() => loadBatchFile(batchFile('builds:\n  - {description: a/d, target-dir: t}\n  - {description: b/d, target-dir: t}\n'))).toThrow(/2 builds have the name d[\s\S]*2 builds have the target dir/);
    expect(() => loadBatchFile('/no/such/batch.yaml')).toThrow(UsageError);
    expect(() => loadBatchFile(batchFile('builds: [\n'))).toThrow(/not valid YAML/);
  });
});

describe('resource budget', () => {
  it('runs as many VMs as free memory and cores allow, at most --jobs, at least one', () => {
    const vms = (n: number) => Array.from({ length: n }, () => ({ memoryMiB: 2048, cpus: 2 }));
    // 2 cores: four vCPU threads, so two 2-vCPU VMs; 24 GiB would hold many more.
    expect(concurrentBuilds({ availableMiB: 24_000, cores: 2, jobs: undefined, vms: vms(4) })).toBe(2);
    expect(concurrentBuilds({ availableMiB: 24_000, cores: 8, jobs: undefined, vms: vms(4) })).toBe(4);
    expect(concurrentBuilds({ availableMiB: 24_000, cores: 8, jobs: 3, vms: vms(4) })).toBe(3);
    // Memory: (6000 - 1024 reserve) / (2048 + 256 QEMU) = 2.
    expect(concurrentBuilds({ availableMiB: 6000, cores: 16, jobs: undefined, vms: vms(8) })).toBe(2);
    expect(concurrentBuilds({ availableMiB: 1000, cores: 1, jobs: undefined, vms: vms(3) })).toBe(1);
    expect(concurrentBuilds({ availableMiB: 24_000, cores: 16, jobs: undefined, vms: vms(1) })).toBe(1);
  });
});

describe('batch runner', () => {
  const entry = (name: string): BatchEntry => ({ name, job: { args: { targetDir: `/out/${name}` } } as unknown as BatchEntry['job'] });
  const built = (name: string): BuildEvent => ({ type: 'build', image: `/out/${name}/i.tar.xz`, packages: '', result: '', log: '', sizeBytes: 1, seconds: 1, bootstrap: 'cached', peakMemoryBytes: null });

  /** A fake build: takes `ms`, fails when the target dir says so, and counts how many run at once. */
  function fakeBuilds(ms: number) {
    let running = 0;
    const seen = { most: 0, order: [] as string[] };
    const runBuild = async (job: BoxBuildJob): Promise<BuildEvent> => {
      const name = path.basename(job.args.targetDir);
      seen.order.push(name);
      running += 1;
      seen.most = Math.max(seen.most, running);
      try {
        await sleep(name.startsWith('fail') ? ms / 2 : ms, undefined, { signal: job.signal });
        if (name.startsWith('fail')) throw new BuildFailedError(`config.sh of ${name} failed`);
        return built(name);
      } finally {
        running -= 1;
      }
    };
    return { runBuild, seen };
  }

  it('runs at most `concurrency` builds at once, in order; a failure does not stop the others', async () => {
    const { runBuild, seen } = fakeBuilds(40);
    const outcomes = await runBatch(['a', 'fail-b', 'c', 'd'].map(entry), { concurrency: 2, failFast: false, onEvent: () => undefined, runBuild });
    expect(seen.most).toBe(2);
    expect(seen.order).toEqual(['a', 'fail-b', 'c', 'd']);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['built', 'failed', 'built', 'built']);
    expect(outcomes[1]!.error).toEqual({ message: 'config.sh of fail-b failed', exitCode: 1 });
  });

  it('with fail-fast stops the running builds and skips the rest at the first failure', async () => {
    const { runBuild, seen } = fakeBuilds(200);
    const outcomes = await runBatch(['a', 'fail-b', 'c', 'd'].map(entry), { concurrency: 2, failFast: true, onEvent: () => undefined, runBuild });
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['skipped', 'failed', 'skipped', 'skipped']);
    expect(seen.order).toEqual(['a', 'fail-b']);
  });

  it('on interrupt stops every build, waits for them, and rejects with the interrupt', async () => {
    const { runBuild } = fakeBuilds(5_000);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('interrupted by SIGINT')), 50);
    const started = Date.now();
    await expect(runBatch(['a', 'b', 'c'].map(entry), { concurrency: 2, failFast: false, onEvent: () => undefined, runBuild, signal: controller.signal })).rejects.toThrow('interrupted by SIGINT');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('prints a summary table with one row per build', () => {
    const table = summaryTable([
      { name: 'minimal', status: 'built', seconds: 200, peakMemoryBytes: 300 * 1024 ** 2, outputs: ['m.tar.xz', 'm.packages'] },
      { name: 'broken', status: 'failed', seconds: 50, peakMemoryBytes: null, outputs: [] },
    ]).split('\n');
    expect(table[0]).toMatch(/^build\s+result\s+time\s+peak memory\s+outputs$/);
    expect(table[1]).toMatch(/^minimal\s+built\s+3m20s\s+300(\.0)? MiB\s+m\.tar\.xz, m\.packages$/);
    expect(table[2]).toMatch(/^broken\s+failed\s+50(\.0)?s\s+-\s+-$/);
  });
});
