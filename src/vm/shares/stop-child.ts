import { setTimeout as sleep } from 'node:timers/promises';

/** The part of an execa subprocess stopChild uses. */
export interface StoppableChild {
  kill(signal: NodeJS.Signals): boolean;
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
}

/**
 * Stops a share daemon in bounded steps: wait for it to end by itself (virtiofsd exits when
 * QEMU hangs up, sftp-server at the end of its input), then SIGTERM, then SIGKILL.
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
