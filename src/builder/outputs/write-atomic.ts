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
