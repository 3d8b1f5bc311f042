import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { BuildFailedError, UsageError } from '../../src/common/errors.js';
import type { BuildEvent } from '../../src/protocol/events.js';
import { runBatch, type BatchEntry, type BatchUnit } from '../../src/schedule/batch.js';
import { loadBatchFile } from '../../src/schedule/batch-file.js';
import type { BoxBuild, BoxPackJob } from '../../src/schedule/box-build.js';
import { concurrentBuilds, planPacks } from '../../src/schedule/resource-budget.js';
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

describe('packing builds into VMs (--pack)', () => {
  const build = (key: string, memoryMiB = 2048, cpus = 2) => ({ key, memoryMiB, cpus });

  it('puts the builds of one box into one VM sized for all of them, each held to an equal share of memory', () => {
    const plans = planPacks({ builds: [build('debian/x86_64'), build('debian/x86_64'), build('debian/aarch64'), build('debian/x86_64')], availableMiB: 24_000, cores: 2, jobs: undefined });
    expect(plans).toEqual([
      // 3 × 2048 MiB; vCPUs: 3 × 2, at most one per core (but never fewer than one build asks for); (6144 - 256 - 3 × 128) / 3.
      { builds: [0, 1, 3], memoryMiB: 6144, cpus: 2, memoryMaxMiB: 1834 },
      { builds: [2], memoryMiB: 2048, cpus: 2, memoryMaxMiB: 1664 },
    ]);
  });

  it('--jobs caps the builds per VM; a small host caps the VM\'s memory (never below one build\'s)', () => {
    const four = [build('k'), build('k'), build('k'), build('k')];
    expect(planPacks({ builds: four, availableMiB: 24_000, cores: 8, jobs: 2 }).map((plan) => plan.builds)).toEqual([[0, 1], [2, 3]]);
    // (5000 - 1024 reserve - 256 QEMU) = 3720 MiB for four builds.
    expect(planPacks({ builds: four, availableMiB: 5000, cores: 8, jobs: undefined })[0]).toMatchObject({ memoryMiB: 3720, cpus: 8, memoryMaxMiB: 738 });
    // Four builds of one vCPU each on a 2-core host: two vCPUs; one build of four vCPUs keeps its four.
    expect(planPacks({ builds: [build('k', 2048, 1), build('k', 2048, 1), build('k', 2048, 1), build('k', 2048, 1)], availableMiB: 24_000, cores: 2, jobs: undefined })[0]!.cpus).toBe(2);
    expect(planPacks({ builds: [build('k', 2048, 4)], availableMiB: 24_000, cores: 2, jobs: undefined })[0]!.cpus).toBe(4);
    expect(planPacks({ builds: four, availableMiB: 1000, cores: 1, jobs: undefined })[0]!.memoryMiB).toBe(2048);
  });
});

describe('batch runner', () => {
  const entry = (name: string): BatchEntry => ({ name, box: {} as BatchEntry['box'], build: { args: { targetDir: `/out/${name}` } } as unknown as BatchEntry['build'] });
  const single = (names: string[]): BatchUnit[] => names.map((name) => [entry(name)]);
  const built = (name: string): BuildEvent => ({ type: 'build', image: `/out/${name}/i.tar.xz`, packages: '', result: '', log: '', sizeBytes: 1, seconds: 1, bootstrap: 'cached', peakMemoryBytes: null });

  /** A fake build: takes `ms`, fails when the target dir says so, and counts how many run at once. */
  function fakeBuilds(ms: number) {
    let running = 0;
    const seen = { most: 0, order: [] as string[] };
    const runBuild = async (build: BoxBuild, signal: AbortSignal): Promise<BuildEvent> => {
      const name = path.basename(build.args.targetDir);
      seen.order.push(name);
      running += 1;
      seen.most = Math.max(seen.most, running);
      try {
        await sleep(name.startsWith('fail') ? ms / 2 : ms, undefined, { signal });
        if (name.startsWith('fail')) throw new BuildFailedError(`config.sh of ${name} failed`);
        return built(name);
      } finally {
        running -= 1;
      }
    };
    // Like buildPackInBox: each build settles on its own; an interrupt rejects the whole VM.
    const runPack = async (job: BoxPackJob): Promise<PromiseSettledResult<BuildEvent>[]> => {
      const settled = await Promise.allSettled(job.builds.map((build) => runBuild(build, job.signal!)));
      job.signal?.throwIfAborted();
      return settled;
    };
    return { runPack, seen };
  }

  it('runs at most `concurrency` builds at once, in order; a failure does not stop the others', async () => {
    const { runPack, seen } = fakeBuilds(40);
    const outcomes = await runBatch(single(['a', 'fail-b', 'c', 'd']), { concurrency: 2, failFast: false, onEvent: () => undefined, runPack });
    expect(seen.most).toBe(2);
    expect(seen.order).toEqual(['a', 'fail-b', 'c', 'd']);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['built', 'failed', 'built', 'built']);
    expect(outcomes[1]!.error).toEqual({ message: 'config.sh of fail-b failed', exitCode: 1 });
  });

  it('with fail-fast stops the running builds and skips the rest at the first failure', async () => {
    const { runPack, seen } = fakeBuilds(200);
    const outcomes = await runBatch(single(['a', 'fail-b', 'c', 'd']), { concurrency: 2, failFast: true, onEvent: () => undefined, runPack });
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['skipped', 'failed', 'skipped', 'skipped']);
    expect(seen.order).toEqual(['a', 'fail-b']);
  });

  it('on interrupt stops every build, waits for them, and rejects with the interrupt', async () => {
    const { runPack } = fakeBuilds(5_000);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('interrupted by SIGINT')), 50);
    const started = Date.now();
    await expect(runBatch(single(['a', 'b', 'c']), { concurrency: 2, failFast: false, onEvent: () => undefined, runPack, signal: controller.signal })).rejects.toThrow('interrupted by SIGINT');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('a pack runs its builds in one VM; one failing there leaves the others built', async () => {
    const { runPack, seen } = fakeBuilds(40);
    const vms: string[][] = [];
    const counting = (job: BoxPackJob) => {
      vms.push(job.builds.map((build) => path.basename(build.args.targetDir)));
      return runPack(job);
    };
    const outcomes = await runBatch([[entry('a'), entry('fail-b'), entry('c')], [entry('d')]], { concurrency: 1, failFast: false, onEvent: () => undefined, runPack: counting });
    expect(vms).toEqual([['a', 'fail-b', 'c'], ['d']]);
    expect(seen.most).toBe(3);
    expect(outcomes.map((outcome) => [outcome.name, outcome.status])).toEqual([['a', 'built'], ['fail-b', 'failed'], ['c', 'built'], ['d', 'built']]);
  });

  it('a VM that fails as a whole (boot) fails every build packed into it', async () => {
    const runPack = async (): Promise<PromiseSettledResult<BuildEvent>[]> => {
      throw new UsageError('box debian has no aarch64 build');
    };
    const outcomes = await runBatch([[entry('a'), entry('b')]], { concurrency: 1, failFast: false, onEvent: () => undefined, runPack });
    expect(outcomes.map((outcome) => outcome.error)).toEqual([
      { message: 'box debian has no aarch64 build', exitCode: 2 },
      { message: 'box debian has no aarch64 build', exitCode: 2 },
    ]);
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
