import fs from 'node:fs';
import path from 'node:path';
import { IDENTITY_PATTERN, processIdentity } from '../../common/process-identity.js';

/** What follows a temporary name's prefix: the writer (its identity, or a bare pid) and ".tmp". */
const TEMP_SUFFIX = new RegExp(`^(${IDENTITY_PATTERN.source}|\\d+)\\.tmp$`);

/**
 * A temporary name beside `file` in the same directory (so a rename is atomic), hidden. It
 * carries the writer's process identity, so a later build can tell a killed writer's file.
 */
export function tempNameFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${processIdentity() ?? process.pid}.tmp`);
}

/** Writes `text` to `file` through a temporary file and a rename: never half a file. */
export function writeFileAtomic(file: string, text: string): void {
  const temp = tempNameFor(file);
  fs.writeFileSync(temp, text);
  fs.renameSync(temp, file);
}

/**
 * Removes the temporary files of `files` (tempNameFor's names, any writer) that a writer left
 * behind when it was killed: those whose writer's identity `isStale` says is gone.
 */
export function removeTempFiles(files: string[], isStale: (writer: string) => boolean): void {
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
      const writer = prefixes.map((prefix) => (name.startsWith(prefix) ? TEMP_SUFFIX.exec(name.slice(prefix.length))?.[1] : undefined)).find(Boolean);
      if (writer && isStale(writer)) fs.rmSync(path.join(dir, name), { force: true });
    }
  }
}

