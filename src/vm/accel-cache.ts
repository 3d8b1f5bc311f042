import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { AccelProbeResult } from './accel-probe.js';
import { runtimeBase } from './vm-workdir.js';

/**
 * Remembers the KVM probe's answer until the host reboots or QEMU or the kernel changes:
 * on a host where KVM hangs, the probe costs its whole timeout, and every boot would pay it.
 */
export async function cachedProbe(kernel: string, qemuBinary: string, probe: () => Promise<AccelProbeResult>): Promise<AccelProbeResult> {
  const key = await probeKey(kernel, qemuBinary);
  const file = path.join(runtimeBase(), 'kvm-probe.json');
  const cached = await fs.readFile(file, 'utf8').then((text) => JSON.parse(text) as { key: string; result: AccelProbeResult }, () => undefined);
  if (cached?.key === key) return cached.result;
  const result = await probe();
  await fs.mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}`;
  await fs.writeFile(temporary, JSON.stringify({ key, result }));
  await fs.rename(temporary, file);
  return result;
}

async function probeKey(kernel: string, qemuBinary: string): Promise<string> {
  const bootId = await fs.readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '');
  const kernelStat = await fs.stat(kernel);
  const qemuStat = await fs.stat(qemuBinary).catch(() => undefined);
  return createHash('sha256')
    .update([bootId.trim(), kernel, kernelStat.size, kernelStat.mtimeMs, qemuBinary, qemuStat?.mtimeMs ?? 0].join('\n'))
    .digest('hex');
}
