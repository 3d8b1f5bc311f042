import { describe, expect, it } from 'vitest';
import { ninepMountArgv, ninepQemuArgs } from '../../src/vm/shares/ninep.js';
import { parseShareArg, tagShares, type TaggedShare } from '../../src/vm/shares/share-types.js';
import { jailPasswd, sftpJailCommand, sshfsMountArgv } from '../../src/vm/shares/sshfs.js';
import { virtiofsdCommand, virtiofsMountArgv, virtiofsQemuArgs } from '../../src/vm/shares/virtiofs.js';

const rw: TaggedShare = { tag: 'kiwi0', hostDir: '/home/u/out', guestDir: '/out', readOnly: false };
const ro: TaggedShare = { tag: 'kiwi1', hostDir: '/home/u/desc,v2', guestDir: '/desc', readOnly: true };

describe('--share parsing', () => {
  it('resolves the host directory, normalises the box directory and reads :ro / :rw', () => {
    expect(parseShareArg('out:/mnt/out/', '/home/u')).toEqual({ hostDir: '/home/u/out', guestDir: '/mnt/out', readOnly: false });
    expect(parseShareArg('/d:/d:ro')).toEqual({ hostDir: '/d', guestDir: '/d', readOnly: true });
    expect(parseShareArg('/d:/d:rw')).toEqual({ hostDir: '/d', guestDir: '/d', readOnly: false });
    expect(tagShares([parseShareArg('/a:/a'), parseShareArg('/b:/b')]).map((share) => share.tag)).toEqual(['kiwi0', 'kiwi1']);
  });

  it('refuses a relative or root box directory, an unknown mode and a missing part', () => {
    expect(() => parseShareArg('/d:rel')).toThrow('must be absolute');
    expect(() => parseShareArg('/d:/')).toThrow("cannot mount over the box's root");
    expect(() => parseShareArg('/d:/d:rx')).toThrow('unknown mode "rx"');
    expect(() => parseShareArg('/d')).toThrow('expected HOSTDIR:GUESTDIR[:ro]');
  });
});

describe('9p argv', () => {
  it('uses security_model=none, remapped inodes, readonly=on for ro shares and escapes commas', () => {
    expect(ninepQemuArgs(rw)).toEqual([
      '-fsdev', 'local,id=fs-kiwi0,path=/home/u/out,security_model=none,multidevs=remap',
      '-device', 'virtio-9p-pci,fsdev=fs-kiwi0,mount_tag=kiwi0',
    ]);
    expect(ninepQemuArgs(ro)).toEqual([
      '-fsdev', 'local,id=fs-kiwi1,path=/home/u/desc,,v2,security_model=none,multidevs=remap,readonly=on',
      '-device', 'virtio-9p-pci,fsdev=fs-kiwi1,mount_tag=kiwi1',
    ]);
  });

  it('mounts with 9p2000.L, the transport maximum msize and cache=mmap', () => {
    expect(ninepMountArgv(ro)).toEqual(['mount', '-t', '9p', '-o', 'trans=virtio,version=9p2000.L,msize=512000,cache=mmap,ro', 'kiwi1', '/desc']);
  });
});

describe('virtiofs argv', () => {
  it('runs the C virtiofsd directly for a rw share as root', () => {
    expect(virtiofsdCommand({ binary: '/usr/lib/qemu/virtiofsd', flavor: 'c', share: rw, socket: '/run/vm1/virtiofs-kiwi0.sock', root: true })).toEqual({
      command: '/usr/lib/qemu/virtiofsd',
      args: ['--socket-path=/run/vm1/virtiofs-kiwi0.sock', '-o', 'source=/home/u/out', '-o', 'cache=auto', '-o', 'sandbox=namespace'],
    });
  });

  it('wraps a ro share in a mount namespace with a read-only bind, passing paths as arguments', () => {
    expect(virtiofsdCommand({ binary: '/usr/libexec/virtiofsd', flavor: 'rust', share: ro, socket: '/run/vm1/s', root: true })).toEqual({
      command: 'unshare',
      args: [
        '--mount', '--propagation', 'private', '--',
        'sh', '-c', 'mount --bind -o ro -- "$1" "$1" && shift && exec "$@"', 'kiwi-virtiofsd', '/home/u/desc,v2',
        '/usr/libexec/virtiofsd', '--socket-path', '/run/vm1/s', '--shared-dir', '/home/u/desc,v2', '--cache', 'auto', '--sandbox', 'namespace',
      ],
    });
  });

  it('maps the user to root in a user namespace when kiwi is not root', () => {
    const { command, args } = virtiofsdCommand({ binary: '/usr/lib/qemu/virtiofsd', flavor: 'c', share: rw, socket: '/s', root: false });
    expect([command, ...args.slice(0, 10)]).toEqual([
      'unshare', '--mount', '--propagation', 'private', '--user', '--map-root-user', '--', 'sh', '-c', 'shift && exec "$@"', 'kiwi-virtiofsd',
    ]);
  });

  it('connects QEMU to the socket as a vhost-user-fs device and mounts by tag', () => {
    expect(virtiofsQemuArgs(rw, '/run/vm1/virtiofs-kiwi0.sock')).toEqual([
      '-chardev', 'socket,id=vfs-kiwi0,path=/run/vm1/virtiofs-kiwi0.sock',
      '-device', 'vhost-user-fs-pci,chardev=vfs-kiwi0,tag=kiwi0,queue-size=1024',
    ]);
    expect(virtiofsMountArgv(ro)).toEqual(['mount', '-t', 'virtiofs', '-o', 'ro', 'kiwi1', '/desc']);
  });
});

describe('sshfs argv', () => {
  const jail = { sftpServer: '/usr/lib/openssh/sftp-server', libraries: ['/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2'] };

  it('jails sftp-server with only the share, its binary, its libraries, a private /dev and a one-line passwd', () => {
    expect(sftpJailCommand({ ...jail, share: rw })).toEqual({
      command: 'bwrap',
      args: [
        '--unshare-all', '--die-with-parent', '--new-session', '--clearenv', '--cap-drop', 'ALL',
        '--ro-bind', '/usr/lib/openssh/sftp-server', '/usr/lib/openssh/sftp-server',
        '--ro-bind', '/lib/x86_64-linux-gnu/libc.so.6', '/lib/x86_64-linux-gnu/libc.so.6',
        '--ro-bind', '/lib64/ld-linux-x86-64.so.2', '/lib64/ld-linux-x86-64.so.2',
        '--dev', '/dev',
        '--ro-bind-data', '3', '/etc/passwd',
        '--bind', '/home/u/out', '/share',
        '--remount-ro', '/', '--chdir', '/share', '--',
        '/usr/lib/openssh/sftp-server', '-d', '/share',
      ],
    });
    expect(jailPasswd(1000, 100)).toBe('share:x:1000:100::/share:/nonexistent\n');
  });

  it('refuses writes to a ro share twice on the host: a read-only bind and sftp-server -R', () => {
    const { args } = sftpJailCommand({ ...jail, share: ro });
    expect(args).toContain('--ro-bind');
    expect(args.slice(args.indexOf('/home/u/desc,v2') - 1, args.indexOf('/home/u/desc,v2') + 2)).toEqual(['--ro-bind', '/home/u/desc,v2', '/share']);
    expect(args.slice(-4)).toEqual(['/usr/lib/openssh/sftp-server', '-d', '/share', '-R']);
  });

  it('runs sshfs in the box as an SFTP slave on its stdin/stdout', () => {
    expect(sshfsMountArgv(ro)).toEqual(['sshfs', '-o', 'slave,idmap=none,ro', ':/share', '/desc']);
  });
});
