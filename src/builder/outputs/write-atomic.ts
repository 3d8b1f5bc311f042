import fs from 'node:fs';
import path from 'node:path';

/** A temporary name beside `file` in the same directory (so a rename is atomic), hidden. */
export function tempNameFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
}

/** Writes `text` to `file` through a temporary file and a rename: never half a file. */
export function writeFileAtomic(file: string, text: string): void {
  const temp = tempNameFor(file);
  fs.writeFileSync(temp, text);
  fs.renameSync(temp, file);
}

/**
 * Removes the temporary files of `files` (tempNameFor's names, any pid) that a writer left
 * behind when it was killed: those whose pid `isStale` says is gone.
 */
export function removeTempFiles(files: string[], isStale: (pid: number) => boolean): void {
  const byDir = new Map<string, string[]>();
  for (const file of files) byDir.set(path.dirname(file), [...(byDir.get(path.dirname(file)) ?? []), `.${path.basename(file)}.`]);
  for (const [dir, prefixes] of byDir) {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const pid = prefixes.map((prefix) => (name.startsWith(prefix) ? /^(\d+)\.tmp$/.exec(name.slice(prefix.length))?.[1] : undefined)).find(Boolean);
      if (pid && isStale(Number(pid))) fs.rmSync(path.join(dir, name), { force: true });
    }
  }
}

/** Whether no process has this pid (in this pid namespace). */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
