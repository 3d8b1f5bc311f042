import type { Readable } from 'node:stream';

/**
 * How a line ends. `keep`: only "\n" ends a line (a command's output passed through as it
 * is); `crlf`: "\r\n" too; `cr`: a lone "\r" as well, so progress bars that redraw one
 * line give one line per redraw.
 */
export type LineEndings = 'keep' | 'crlf' | 'cr';

const SEPARATORS: Record<LineEndings, RegExp> = { keep: /\n/, crlf: /\r?\n/, cr: /\r?\n|\r/ };

/** Calls `onLine` for each line of a text stream, and for an unterminated last one at its end. */
export function forwardLines(stream: Readable | null | undefined, onLine: (line: string) => void, endings: LineEndings = 'keep'): void {
  if (!stream) return;
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (pending + chunk).split(SEPARATORS[endings]);
    pending = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  });
  stream.on('end', () => {
    if (pending) onLine(pending);
  });
}
