import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { bootId } from '../common/boot-id.js';
import type { AccelProbeResult } from './accel-probe.js';
import { runtimeBase } from './vm-workdir.js';

const ProbeEntry = z.object({
  key: z.string(),
  bootId: z.string(),
  result: z.object({ accel: z.enum(['kvm', 'tcg']), reason: z.string().optional() }),
});
type ProbeEntry = z.infer<typeof ProbeEntry>;
const ProbeFile = z.object({ entries: z.array(ProbeEntry) });

/** Answers kept per host boot: one per box kernel and QEMU, so two boxes used in turn do not evict each other. */
const MAX_ENTRIES = 8;

/**
 * Remembers the KVM probe's answer until the host reboots or QEMU or the kernel changes:
 * on a host where KVM hangs, the probe costs its whole timeout, and every boot would pay it.
 */
export async function cachedProbe(kernel: string, qemuBinary: string, probe: () => Promise<AccelProbeResult>): Promise<AccelProbeResult> {
  const current = bootId();
  const key = await probeKey(current, kernel, qemuBinary);
  const found = (await readProbeEntries()).find((entry) => entry.key === key);
  if (found) return found.result;
  const result = await probe();
  // Read again: another kiwi may have added its answer while this one probed.
  const kept = (await readProbeEntries()).filter((entry) => entry.bootId === current && entry.key !== key);
  const entries: ProbeEntry[] = [{ key, bootId: current, result }, ...kept].slice(0, MAX_ENTRIES);
  const file = probeFile();
  await fs.mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}`;
  await fs.writeFile(temporary, JSON.stringify({ entries }));
  await fs.rename(temporary, file);
  return result;
}

/**
 * What the last KVM probe since this host booted found, without probing (undefined when
 * none ran): for choices made before any box boots, such as the cross-arch method.
 */
export async function lastProbedAccel(): Promise<AccelProbeResult['accel'] | undefined> {
  const current = bootId();
  return (await readProbeEntries()).find((entry) => entry.bootId === current)?.result.accel;
}

function probeFile(): string {
  return path.join(runtimeBase(), 'kvm-probe.json');
}

/** Newest first; a missing or unreadable file (or one of an older kiwi) holds none. */
async function readProbeEntries(): Promise<ProbeEntry[]> {
  const text = await fs.readFile(probeFile(), 'utf8').catch(() => '');
  try {
    return ProbeFile.parse(JSON.parse(text)).entries;
  } catch {
    return [];
  }
}

async function probeKey(boot: string, kernel: string, qemuBinary: string): Promise<string> {
  const kernelStat = await fs.stat(kernel);
  const qemuStat = await fs.stat(qemuBinary).catch(() => undefined);
  return createHash('sha256')
    .update([boot, kernel, kernelStat.size, kernelStat.mtimeMs, qemuBinary, qemuStat?.mtimeMs ?? 0].join('\n'))
    .digest('hex');
}
