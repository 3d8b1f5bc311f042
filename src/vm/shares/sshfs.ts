import type { TaggedShare } from './share-types.js';

/** Where the share appears inside the sftp-server's jail; the only host directory it can reach. */
export const JAIL_SHARE_DIR = '/share';

/** Everything the jailed sftp-server needs, resolved on the host first (see sftp-jail-probe). */
export interface SftpJailSpec {
  /** The sftp-server binary (openssh-sftp-server). */
  sftpServer: string;
  /** The files its dynamic loader opens (ld.so, libc): the only other host files in the jail. */
  libraries: string[];
  share: TaggedShare;
}

/**
 * The host side of a reverse-sshfs share: OpenSSH's sftp-server for one directory, jailed
 * with bubblewrap. Its root is an empty read-only tmpfs holding the share (at /share), the
 * server binary and the loader's libraries (read-only); no other host path exists in its
 * mount namespace (besides a minimal /dev of its own), so `..`, absolute paths and symlinks pointing out of the share all
 * resolve inside the jail, and a hard link cannot cross into another mount. A read-only
 * share is refused twice on the host: a read-only bind mount (EROFS) and sftp-server -R
 * (refuses every writing request). It gets no network, no capabilities and a fresh PID
 * namespace, and dies with kiwi.
 */
export function sftpJailCommand(spec: SftpJailSpec): { command: string; args: string[] } {
  const args = ['--unshare-all', '--die-with-parent', '--new-session', '--clearenv', '--cap-drop', 'ALL'];
  for (const file of [spec.sftpServer, ...spec.libraries]) args.push('--ro-bind', file, file);
  // sftp-server opens /dev/null at start; --dev is bubblewrap's own minimal /dev (null, zero, urandom, tty), not the host's.
  args.push('--dev', '/dev');
  // sftp-server refuses to start without a passwd entry for its uid: one line on fd 3 (jailPasswd), not the host's file.
  args.push('--ro-bind-data', '3', '/etc/passwd');
  args.push(spec.share.readOnly ? '--ro-bind' : '--bind', spec.share.hostDir, JAIL_SHARE_DIR);
  args.push('--remount-ro', '/', '--chdir', JAIL_SHARE_DIR, '--', spec.sftpServer, '-d', JAIL_SHARE_DIR);
  if (spec.share.readOnly) args.push('-R');
  return { command: 'bwrap', args };
}

/** The jail's whole /etc/passwd (handed to bwrap on fd 3): the server's own user and nothing of the host's. */
export function jailPasswd(uid: number, gid: number): string {
  return `share:x:${uid}:${gid}::${JAIL_SHARE_DIR}:/nonexistent\n`;
}

/**
 * The guest's half: sshfs speaks SFTP on its stdin/stdout (-o slave, which also keeps it in
 * the foreground), and the host pipes those through the SSH channel to the jailed server.
 */
export function sshfsMountArgv(share: TaggedShare): string[] {
  const options = ['slave', 'idmap=none', share.readOnly ? 'ro' : 'rw'];
  return ['sshfs', '-o', options.join(','), `:${JAIL_SHARE_DIR}`, share.guestDir];
}
