import fs from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import path from 'node:path';
import type { CleanupStack } from '../../common/cleanup-stack.js';
import { EnvironmentError, UsageError } from '../../common/errors.js';
import { shellQuote } from '../../common/shell-quote.js';
import { startSftpBridge } from '../../transport/sftp-bridge.js';
import type { SshSession } from '../../transport/ssh-session.js';
import type { VmShare } from '../vm-spec.js';
import { ninepMountArgv } from './ninep.js';
import type { Share, ShareBackend, TaggedShare } from './share-types.js';
import { tagShares } from './share-types.js';
import { virtiofsMountArgv } from './virtiofs.js';
import { startVirtiofsd } from './virtiofsd-process.js';

/**
 * Host side, before QEMU starts: checks the directories, starts one virtiofsd per share
 * (pushed on the VM's cleanup stack, so they stop after QEMU) and returns the devices for
 * the VM spec. sshfs needs nothing before the box answers on SSH.
 */
export async function prepareHostShares(backend: ShareBackend, shares: Share[], vmDir: string, cleanup: CleanupStack): Promise<{ tagged: TaggedShare[]; devices: VmShare[] }> {
  const tagged = tagShares(shares);
  for (const share of tagged) {
    const stat = await fs.stat(share.hostDir).catch(() => undefined);
    if (!stat?.isDirectory()) throw new UsageError(`--share ${share.hostDir}:${share.guestDir}: ${share.hostDir} is not a directory`);
  }
  const guestDirs = tagged.map((share) => share.guestDir);
  if (new Set(guestDirs).size !== guestDirs.length) throw new UsageError(`--share: two shares mount at the same box directory (${guestDirs.join(', ')})`);
  if (backend === '9p') return { tagged, devices: tagged.map((share) => ({ kind: '9p', share })) };
  if (backend === 'sshfs') return { tagged, devices: [] };
  const devices: VmShare[] = [];
  for (const share of tagged) {
    const daemon = await startVirtiofsd(share, path.join(vmDir, `virtiofs-${share.tag}.sock`));
    cleanup.push(`stop virtiofsd for ${share.hostDir}`, () => daemon.stop());
    devices.push({ kind: 'virtiofs', share, socket: daemon.socket });
  }
  return { tagged, devices };
}

/**
 * Guest side, once SSH answers: mounts every share (9p and virtiofs in one command; sshfs
 * one bridge per share, each pushed on the cleanup stack).
 */
export async function mountGuestShares(session: SshSession, backend: ShareBackend, shares: TaggedShare[], cleanup: CleanupStack): Promise<void> {
  if (shares.length === 0) return;
  if (backend === 'sshfs') {
    for (const share of shares) {
      const bridge = await startSftpBridge(session, share);
      cleanup.push(`stop sftp-server for ${share.hostDir}`, () => bridge.stop());
    }
    return;
  }
  const mount = backend === '9p' ? ninepMountArgv : virtiofsMountArgv;
  const script = shares.map((share) => `${shellQuote(['mkdir', '-p', share.guestDir])} && ${shellQuote(mount(share))}`).join(' && ');
  let errors = '';
  const stderr = new PassThrough().on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const result = await session.exec(script, { stderr });
  if (result.exitCode !== 0) {
    throw new EnvironmentError(`mounting the ${backend} shares in the box failed: ${errors.trim() || `exit ${result.exitCode}`}`, {
      hint: backend === '9p' ? 'the box kernel needs the 9p and 9pnet_virtio modules' : 'the box kernel needs the virtiofs module',
    });
  }
}
