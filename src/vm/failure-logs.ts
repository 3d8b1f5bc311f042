import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * How many failed VMs keep their evidence. A host whose boots fail again and again (a CI runner
 * retrying) would otherwise fill the runtime directory; the newest failures are the ones asked about.
 */
export const KEPT_FAILURES = 20;

/**
 * The directory where a failed VM's console log and register dump stay after its VM dir is
 * removed, one `<vm id>-<what>` file each. Opening it drops all but the newest failures
 * (`keep - 1`, leaving room for the one about to be written).
 */
export async function openFailureLogs(dir: string, keep = KEPT_FAILURES): Promise<(vmId: string, what: string) => string> {
  await fs.mkdir(dir, { recursive: true });
  await dropOldFailures(dir, keep - 1);
  return (vmId, what) => path.join(dir, `${vmId}-${what}`);
}

async function dropOldFailures(dir: string, keep: number): Promise<void> {
  const newestByVm = new Map<string, { mtimeMs: number; files: string[] }>();
  for (const name of await fs.readdir(dir)) {
    const vmId = name.split('-', 1)[0]!;
    const stat = await fs.stat(path.join(dir, name)).catch(() => undefined);
    if (!stat) continue;
    const failure = newestByVm.get(vmId) ?? { mtimeMs: 0, files: [] };
    failure.mtimeMs = Math.max(failure.mtimeMs, stat.mtimeMs);
    failure.files.push(name);
    newestByVm.set(vmId, failure);
  }
  const oldestFirst = [...newestByVm.values()].sort((a, b) => a.mtimeMs - b.mtimeMs);
  const dropped = oldestFirst.slice(0, Math.max(0, oldestFirst.length - keep));
  await Promise.all(dropped.flatMap((failure) => failure.files.map((name) => fs.rm(path.join(dir, name), { force: true }))));
}
