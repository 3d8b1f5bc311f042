import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { EnvironmentError } from '../common/errors.js';
import { shellQuote } from '../common/shell-quote.js';
import { checkRequirements, REQUIREMENTS } from '../vm/requirements.js';
import { jailPasswd, sftpJailCommand, sshfsMountArgv } from '../vm/shares/sshfs.js';
import type { TaggedShare } from '../vm/shares/share-types.js';
import { stopChild } from '../common/child-process.js';
import type { SshSession } from './ssh-session.js';

/** A mounted reverse-sshfs share: the jailed host sftp-server and the guest's sshfs, joined by one SSH channel. */
export interface SftpBridge {
  /** Bounded stop of the host side; the guest's sshfs ends when its channel closes. */
  stop(): Promise<void>;
}

/** The sftp-server and the files its loader needs (from ldd), or an error naming the packages. */
export async function probeSftpJail(): Promise<{ sftpServer: string; libraries: string[] }> {
  // The same entries kiwi doctor checks, so both name the same packages.
  const [server, bwrap] = checkRequirements(['sftp-server', 'bwrap'].map((name) => REQUIREMENTS.find((requirement) => requirement.name === name)!));
  const missing = [server, bwrap].filter((status) => !status?.found).map((status) => status!.requirement);
  if (missing.length) {
    throw new EnvironmentError(`--sshfs-sharing needs ${missing.map((item) => item.name).join(' and ')}, not installed`, {
      hint: `install ${missing.map((item) => item.package).join(' ')} (or run kiwi doctor --fix), or use --9p-sharing`,
    });
  }
  const sftpServer = server!.found!;
  const { stdout } = await execa('ldd', [sftpServer], { stdin: 'ignore' });
  // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" and "/lib64/ld-linux-x86-64.so.2 (0x...)"; linux-vdso has no file.
  const libraries = [...stdout.matchAll(/(?:=>\s+|^\s*)(\/\S+)\s+\(0x/gm)].map((match) => match[1]!);
  return { sftpServer, libraries: [...new Set(libraries)] };
}

/**
 * Serves one share to the box: starts the jailed sftp-server, runs `sshfs -o slave` in the
 * box with its stdin/stdout piped to the server's, and waits (bounded) until the guest
 * directory is a mount point.
 */
export async function startSftpBridge(session: SshSession, share: TaggedShare, timeoutMs = 30_000): Promise<SftpBridge> {
  const jail = await probeSftpJail();
  const { command, args } = sftpJailCommand({ ...jail, share });
  const passwd = new TextEncoder().encode(jailPasswd(process.getuid?.() ?? 0, process.getgid?.() ?? 0));
  const server = execa(command, args, { stdio: ['pipe', 'pipe', 'pipe', passwd], buffer: false, cleanup: true, reject: false });
  let serverErrors = '';
  server.stderr?.on('data', (chunk: Buffer) => (serverErrors = (serverErrors + chunk.toString()).slice(-2000)));
  // The guest may hang up first (poweroff); a write to a closed pipe is not an error of ours.
  server.stdin?.on('error', () => undefined);
  let serverRunning = true;
  const serverExited = server.then(() => (serverRunning = false));

  let guestErrors = '';
  const guestStderr = new Writable({
    write(chunk: Buffer, _encoding, done) {
      guestErrors = (guestErrors + chunk.toString()).slice(-2000);
      done();
    },
  });
  await session.exec(shellQuote(['mkdir', '-p', share.guestDir]));
  let guestRunning = true;
  const guest = session
    .exec(shellQuote(sshfsMountArgv(share)), { stdin: server.stdout!, stdout: server.stdin!, stderr: guestStderr })
    .catch(() => undefined)
    .finally(() => (guestRunning = false));

  let stopped: Promise<void> | undefined;
  const bridge: SftpBridge = {
    stop: () =>
      (stopped ??= (async () => {
        // End the server's input: sftp-server exits, then sshfs in the box sees the end of its stream.
        server.stdin?.end();
        await stopChild(server, serverExited);
        await Promise.race([guest, sleep(2000)]);
      })()),
  };
  for (const deadline = Date.now() + timeoutMs; ; await sleep(100)) {
    const check = await session.exec(shellQuote(['mountpoint', '-q', share.guestDir])).catch(() => undefined);
    if (check?.exitCode === 0) return bridge;
    if (!serverRunning || !guestRunning || Date.now() > deadline) {
      await bridge.stop();
      const why = !serverRunning ? 'the host sftp-server ended' : !guestRunning ? 'sshfs in the box ended' : `not mounted within ${timeoutMs / 1000}s`;
      throw new EnvironmentError(`sshfs share ${share.hostDir} → ${share.guestDir} failed: ${why}\n${[serverErrors, guestErrors].filter(Boolean).join('\n').trim()}`, {
        hint: 'the box needs sshfs and the fuse module; --9p-sharing needs neither',
      });
    }
  }
}
