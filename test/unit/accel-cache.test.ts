import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cachedProbe, lastProbedAccel } from '../../src/vm/accel-cache.js';
import type { AccelProbeResult } from '../../src/vm/accel-probe.js';

describe('cachedProbe', () => {
  let runtime: string;
  let savedRuntime: string | undefined;
  let kernels: string[];

  beforeEach(() => {
    runtime = fs.mkdtempSync(path.join(os.tmpdir(), 'kiwi-accel-cache-'));
    savedRuntime = process.env.XDG_RUNTIME_DIR;
    process.env.XDG_RUNTIME_DIR = runtime;
    kernels = ['a', 'b'].map((name) => {
      const file = path.join(runtime, `vmlinux-${name}`);
      fs.writeFileSync(file, name);
      return file;
    });
  });

  afterEach(() => {
    if (savedRuntime === undefined) delete process.env.XDG_RUNTIME_DIR;
    else process.env.XDG_RUNTIME_DIR = savedRuntime;
    fs.rmSync(runtime, { recursive: true, force: true });
  });

  function counting(result: AccelProbeResult): { probe: () => Promise<AccelProbeResult>; calls: () => number } {
    let calls = 0;
    const probe = (): Promise<AccelProbeResult> => {
      calls += 1;
      return Promise.resolve(result);
    };
    return { probe, calls: () => calls };
  }

  it('probes once per kernel, and two kernels used in turn keep their answers', async () => {
    const tcg = counting({ accel: 'tcg', reason: 'a KVM guest printed nothing within 3s' });
    const kvm = counting({ accel: 'kvm' });
    for (let round = 0; round < 3; round += 1) {
      expect(await cachedProbe(kernels[0]!, 'qemu-system-x86_64', tcg.probe)).toEqual({ accel: 'tcg', reason: 'a KVM guest printed nothing within 3s' });
      expect(await cachedProbe(kernels[1]!, 'qemu-system-x86_64', kvm.probe)).toEqual({ accel: 'kvm' });
    }
    expect([tcg.calls(), kvm.calls()]).toEqual([1, 1]);
    expect(await lastProbedAccel()).toBe('kvm');
  });

  it('probes again when the kernel changes', async () => {
    const probe = counting({ accel: 'tcg' });
    await cachedProbe(kernels[0]!, 'qemu-system-x86_64', probe.probe);
    fs.writeFileSync(kernels[0]!, 'a rebuilt kernel');
    await cachedProbe(kernels[0]!, 'qemu-system-x86_64', probe.probe);
    expect(probe.calls()).toBe(2);
  });

  it('treats an unreadable or foreign cache file as empty', async () => {
    fs.mkdirSync(path.join(runtime, 'kiwi'));
    for (const text of ['{not json', JSON.stringify({ key: 'x', result: { accel: 'kvm' } })]) {
      fs.writeFileSync(path.join(runtime, 'kiwi', 'kvm-probe.json'), text);
      expect(await lastProbedAccel()).toBeUndefined();
      const probe = counting({ accel: 'tcg' });
      expect(await cachedProbe(kernels[0]!, 'qemu-system-x86_64', probe.probe)).toEqual({ accel: 'tcg' });
      expect(probe.calls()).toBe(1);
      fs.rmSync(path.join(runtime, 'kiwi', 'kvm-probe.json'));
    }
  });
});
