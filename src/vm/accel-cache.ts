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
  const cached = await readProbeFile();
  if (cached?.key === key) return cached.result;
  const result = await probe();
  const file = probeFile();
  await fs.mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}`;
  await fs.writeFile(temporary, JSON.stringify({ key, bootId: await bootId(), result }));
  await fs.rename(temporary, file);
  return result;
}

/**
 * What the last KVM probe since this host booted found, without probing (undefined when
 * none ran): for choices made before any box boots, such as the cross-arch method.
 */
export async function lastProbedAccel(): Promise<AccelProbeResult['accel'] | undefined> {
  const cached = await readProbeFile();
  return cached && cached.bootId === (await bootId()) ? cached.result.accel : undefined;
}

function probeFile(): string {
  return path.join(runtimeBase(), 'kvm-probe.json');
}

async function readProbeFile(): Promise<{ key: string; bootId?: string; result: AccelProbeResult } | undefined> {
  return fs.readFile(probeFile(), 'utf8').then((text) => JSON.parse(text) as { key: string; bootId?: string; result: AccelProbeResult }, () => undefined);
}

async function bootId(): Promise<string> {
  return (await fs.readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '')).trim();
}

async function probeKey(kernel: string, qemuBinary: string): Promise<string> {
  const kernelStat = await fs.stat(kernel);
  const qemuStat = await fs.stat(qemuBinary).catch(() => undefined);
  return createHash('sha256')
    .update([await bootId(), kernel, kernelStat.size, kernelStat.mtimeMs, qemuBinary, qemuStat?.mtimeMs ?? 0].join('\n'))
    .digest('hex');
}
