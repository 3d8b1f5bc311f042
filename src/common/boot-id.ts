import fs from 'node:fs';

let cached: string | undefined;

/**
 * The kernel's id of the running boot (a random UUID, new at every boot of the host, or of
 * the box when kiwi runs inside one); '' where /proc does not offer it. Read once: it cannot
 * change while a process runs.
 */
export function bootId(): string {
  cached ??= readBootId();
  return cached;
}

function readBootId(): string {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}
