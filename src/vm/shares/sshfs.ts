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
 * mount namespace, so `..`, absolute paths and symlinks pointing out of the share all
 * resolve inside the jail, and a hard link cannot cross into another mount. A read-only
 * share is refused twice on the host: a read-only bind mount (EROFS) and sftp-server -R
 * (refuses every writing request). It gets no network, no capabilities and a fresh PID
 * namespace, and dies with kiwi.
 */
export function sftpJailCommand(spec: SftpJailSpec): { command: string; args: string[] } {
  const args = ['--unshare-all', '--die-with-parent', '--new-session', '--clearenv', '--cap-drop', 'ALL'];
  for (const file of [spec.sftpServer, ...spec.libraries]) args.push('--ro-bind', file, file);
  args.push(spec.share.readOnly ? '--ro-bind' : '--bind', spec.share.hostDir, JAIL_SHARE_DIR);
  args.push('--remount-ro', '/', '--chdir', JAIL_SHARE_DIR, '--', spec.sftpServer, '-d', JAIL_SHARE_DIR);
  if (spec.share.readOnly) args.push('-R');
  return { command: 'bwrap', args };
}

/**
 * The guest's half: sshfs speaks SFTP on its stdin/stdout (-o slave, which also keeps it in
 * the foreground), and the host pipes those through the SSH channel to the jailed server.
 */
export function sshfsMountArgv(share: TaggedShare): string[] {
  const options = ['slave', 'idmap=none', share.readOnly ? 'ro' : 'rw'];
  return ['sshfs', '-o', options.join(','), `:${JAIL_SHARE_DIR}`, share.guestDir];
}
