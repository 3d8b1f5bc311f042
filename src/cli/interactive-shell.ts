import type { SshSession } from '../transport/ssh-session.js';

/**
 * A login shell in the box on this terminal (a pty when stdin is one), until the user exits
 * it; `prelude` is shell code run first (exports, cd). Returns the shell's exit code.
 */
export async function interactiveShell(session: SshSession, prelude = ''): Promise<number> {
  const stdin = process.stdin;
  const pty = stdin.isTTY ? { rows: process.stdout.rows ?? 24, cols: process.stdout.columns ?? 80, term: process.env.TERM ?? 'xterm' } : undefined;
  if (stdin.isTTY) stdin.setRawMode(true);
  try {
    const result = await session.exec(`${prelude}exec /bin/bash -l 2>/dev/null || exec /bin/sh -l`, {
      stdout: process.stdout,
      stderr: process.stderr,
      stdin,
      ...(pty ? { pty } : {}),
    });
    return result.exitCode ?? 1;
  } finally {
    if (stdin.isTTY) stdin.setRawMode(false);
    stdin.pause();
  }
}
