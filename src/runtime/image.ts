import fs from 'node:fs';
import { UsageError } from '../common/errors.js';
import type { Reporter } from './reporter.js';
import { runTool } from './tools.js';

/**
 * Unpacks a root tarball (.tar.xz) into the run's lower layer. As root, ownership is kept
 * by number (the names in the tarball mean nothing on this host). Rootless, the files
 * become the user's and device nodes are skipped: an unprivileged user cannot create
 * them, and the container gets its own /dev anyway.
 */
export function extractArgv(image: string, dest: string, rootless: boolean): string[] {
  return [
    'tar',
    '--extract',
    '--xz',
    '--file',
    image,
    '--directory',
    dest,
    ...(rootless ? ['--no-same-owner', '--exclude=./dev/*', '--exclude=dev/*'] : ['--numeric-owner', '--same-owner']),
  ];
}

export async function extractImage(image: string, dest: string, rootless: boolean, reporter: Reporter, signal?: AbortSignal): Promise<void> {
  if (!fs.existsSync(image)) throw new UsageError(`--image ${image}: no such file`);
  fs.mkdirSync(dest, { recursive: true });
  await runTool(extractArgv(image, dest, rootless), { reporter, step: 'image', ...(signal ? { signal } : {}) });
}
