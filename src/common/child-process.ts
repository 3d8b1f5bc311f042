import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';

/**
 * Starts a long-lived helper process (QEMU, virtiofsd) that must not outlive kiwi: it runs
 * under `setpriv --pdeathsig KILL`, so the kernel kills it even when kiwi itself is killed
 * with SIGKILL; execa's cleanup covers normal exits. stdout is ignored, stderr piped.
 */
export function startTiedProcess(command: string, args: string[]): ResultPromise<{ stdin: 'ignore'; stdout: 'ignore'; stderr: 'pipe'; buffer: false; reject: false }> {
  return execa('setpriv', ['--pdeathsig', 'KILL', '--', command, ...args], {
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'pipe',
    buffer: false,
    cleanup: true,
    reject: false,
  });
}

/** The part of an execa subprocess stopChild uses. */
export interface StoppableChild {
  kill(signal: NodeJS.Signals): boolean;
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
}

/**
 * Stops a helper process in bounded steps: wait for it to end by itself (QEMU after the
 * guest's power-off, virtiofsd when QEMU hangs up, sftp-server at the end of its input),
 * then SIGTERM, then SIGKILL.
 * Resolves once the process is gone or after the last step (≈ graceMs + 7 s at most).
 */
export async function stopChild(child: StoppableChild, exited: Promise<unknown>, graceMs = 1000): Promise<void> {
  let done = false;
  void exited.then(() => (done = true));
  const steps: [NodeJS.Signals | undefined, number][] = [[undefined, graceMs], ['SIGTERM', 2000], ['SIGKILL', 5000]];
  for (const [signal, waitMs] of steps) {
    if (done || child.exitCode !== null || child.signalCode !== null) return;
    if (signal) child.kill(signal);
    await Promise.race([exited, sleep(waitMs)]);
  }
}
