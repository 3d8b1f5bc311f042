import fs from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { EnvironmentError } from '../../common/errors.js';
import { checkRequirements } from '../requirements.js';
import type { TaggedShare } from './share-types.js';
import { startTiedProcess, stopChild } from '../../common/child-process.js';
import { VIRTIOFSD_CANDIDATES, virtiofsdCommand, type VirtiofsdFlavor } from './virtiofs.js';

/** A running virtiofsd serving one share on its socket. */
export interface VirtiofsDaemon {
  socket: string;
  /** Bounded stop; safe to call more than once. */
  stop(): Promise<void>;
}

/** The virtiofsd to use, or a clear error naming the package (or why it cannot run for this user). */
export function findVirtiofsd(root: boolean): { binary: string; flavor: VirtiofsdFlavor } {
  const candidates = VIRTIOFSD_CANDIDATES.map((candidate) => candidate.path);
  const [status] = checkRequirements([{ name: 'virtiofsd', candidates, package: 'virtiofsd', neededFor: 'virtiofs shares' }]);
  const found = VIRTIOFSD_CANDIDATES.find((candidate) => candidate.path === status?.found);
  if (!found) {
    throw new EnvironmentError(`--virtiofs-sharing needs virtiofsd, which is not installed (looked for ${candidates.join(', ')})`, {
      hint: 'install the virtiofsd package (Debian 13+, Ubuntu 24.04+) or qemu-system-common (Debian 12), or use --9p-sharing',
    });
  }
  if (found.flavor === 'c' && !root) {
    // It drops supplementary groups at start (setgroups), which a user namespace of an unprivileged user never allows.
    throw new EnvironmentError(`--virtiofs-sharing without root needs the Rust virtiofsd; QEMU's ${found.path} runs only as root`, {
      hint: 'use --9p-sharing (the default) or --sshfs-sharing, run kiwi as root, or install the virtiofsd package (Debian 13+, Ubuntu 24.04+)',
    });
  }
  return { binary: found.path, flavor: found.flavor };
}

/**
 * Starts one virtiofsd and waits (bounded) until its socket exists, so QEMU can connect.
 * The daemon creates the socket itself; polling for it is the one way that works with both
 * the C and the Rust daemon (only the Rust one takes a listening fd).
 */
export async function startVirtiofsd(share: TaggedShare, socket: string, timeoutMs = 10_000): Promise<VirtiofsDaemon> {
  const root = process.getuid?.() === 0;
  const { binary, flavor } = findVirtiofsd(root);
  const { command, args } = virtiofsdCommand({ binary, flavor, share, socket, root });
  const child = startTiedProcess(command, args);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  let running = true;
  const exited = child.then(() => (running = false));
  let stopped: Promise<void> | undefined;
  const daemon: VirtiofsDaemon = { socket, stop: () => (stopped ??= stopChild(child, exited)) };
  for (const deadline = Date.now() + timeoutMs; ; await sleep(20)) {
    if (await fs.stat(socket).then((stat) => stat.isSocket(), () => false)) return daemon;
    if (!running || Date.now() > deadline) {
      await daemon.stop();
      throw new EnvironmentError(`virtiofsd for ${share.hostDir} did not start${running ? ` within ${timeoutMs / 1000}s` : ''}: ${stderr.trim() || 'no output'}`, {
        hint: 'check that the directory exists and is readable; --9p-sharing needs no daemon',
      });
    }
  }
}
