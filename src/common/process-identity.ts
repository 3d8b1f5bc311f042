import fs from 'node:fs';

/**
 * A process named so that a reused pid is not mistaken for it: "<pid>-<start time in
 * clock ticks since boot>" from /proc/<pid>/stat. Lock files and in-use markers store it.
 */
export function processIdentity(pid: number = process.pid): string | undefined {
  const start = processStartTime(pid);
  return start === undefined ? undefined : `${pid}-${start}`;
}

function processStartTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses; fields after the last ')' are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19];
}

/** Whether the process an identity names is still running. */
export function isAlive(identity: string): boolean {
  const match = /^(\d+)-(\d+)$/.exec(identity.trim());
  if (!match) return false;
  return processStartTime(Number(match[1])) === match[2];
}
