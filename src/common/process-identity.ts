import fs from 'node:fs';

/**
 * A process named so that a reused pid is not mistaken for it: "<pid>-<start time in
 * clock ticks since boot>" from /proc/<pid>/stat. Lock files and in-use markers store it.
 */
export function processIdentity(pid: number = process.pid): string | undefined {
  const stat = readStat(pid);
  return stat && `${pid}-${stat.startTime}`;
}

function readStat(pid: number): { state: string; startTime: string } | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses; fields after the last ')' are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', startTime: fields[19] ?? '' };
}

/**
 * Whether the process an identity names is still running. A zombie is not: it was killed
 * and holds nothing, only its parent has not reaped it yet (a shell that killed kiwi and
 * goes on without `wait`).
 */
export function isAlive(identity: string): boolean {
  const match = /^(\d+)-(\d+)$/.exec(identity.trim());
  if (!match) return false;
  const stat = readStat(Number(match[1]));
  return stat !== undefined && stat.startTime === match[2] && stat.state !== 'Z' && stat.state !== 'X';
}
