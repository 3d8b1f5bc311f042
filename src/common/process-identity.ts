import fs from 'node:fs';
import { bootId } from './boot-id.js';

/**
 * A process named so that no other is mistaken for it: "<pid>-<start time in clock ticks
 * since boot>-<boot>", from /proc/<pid>/stat and the first 8 hex digits of the boot id.
 * Lock files and in-use marks store it. The start time tells a reused pid; the boot tells
 * a process of an earlier boot, whose pid and start tick the next boot can repeat exactly
 * (a box boots the same way every time, and its cache disk keeps the marks of a killed VM).
 */
export function processIdentity(pid: number = process.pid): string | undefined {
  const stat = readStat(pid);
  return stat && [pid, stat.startTime, bootTag()].filter(Boolean).join('-');
}

/** An identity as processIdentity writes it; one without the boot (an older kiwi's) is read as of this boot. */
export const IDENTITY_PATTERN = /(\d+)-(\d+)(?:-([0-9a-f]{8}))?/;
const WHOLE_IDENTITY = new RegExp(`^${IDENTITY_PATTERN.source}$`);

/** The boot's part of an identity: enough of the boot id to tell two boots apart. */
const bootTag = (): string => bootId().slice(0, 8);

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
  const match = WHOLE_IDENTITY.exec(identity.trim());
  if (!match) return false;
  const [, pid, startTime, boot] = match;
  if (boot !== undefined && boot !== bootTag()) return false;
  const stat = readStat(Number(pid));
  return stat !== undefined && stat.startTime === startTime && stat.state !== 'Z' && stat.state !== 'X';
}
