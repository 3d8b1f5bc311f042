import { describe, expect, it } from 'vitest';
import { describeMount, mountArgs, planMounts } from '../../src/runtime/mounts-plan.js';
import { buildCommitArgv, buildExportArgv, buildSandboxArgv, overlayOptions, type SandboxPlan } from '../../src/runtime/sandbox-argv.js';
import { shellQuote } from '../../src/common/shell-quote.js';

const overlay = { lower: '/roots/deb', upper: '/s/1/upper', work: '/s/1/work', merged: '/s/1/merged' };

function plan(overrides: Partial<SandboxPlan> = {}): SandboxPlan {
  return {
    userns: false,
    cgroupProcs: ['/sys/fs/cgroup/kiwi/1/cgroup.procs'],
    overlay,
    mounts: planMounts({ merged: overlay.merged, binds: [{ source: '/cache', target: '/var/cache', readOnly: true }], resolvConf: '/etc/resolv.conf' }),
    hostname: 'h',
    network: 'none',
    workdir: '/',
    env: { PATH: '/bin' },
    argv: ['/bin/sh', '-c', 'echo $HOME'],
    statusFd: 3,
    ...overrides,
  };
}

describe('sandbox argv', () => {
  it('plans the container mounts in order, user binds last', () => {
    expect(mountArgs(plan().mounts)).toEqual([
      '--bind', '/s/1/merged', '/',
      '--dev', '/dev',
      '--proc', '/proc',
      '--ro-bind', '/sys', '/sys',
      '--perms', '1777', '--tmpfs', '/tmp',
      '--perms', '0755', '--tmpfs', '/run',
      '--ro-bind-try', '/etc/resolv.conf', '/etc/resolv.conf',
      '--ro-bind', '/cache', '/var/cache',
    ]);
    expect(describeMount({ kind: 'tmpfs', target: '/tmp', mode: 0o1777 })).toBe('mount tmpfs on /tmp');
  });

  it('joins the cgroup, unshares the mount namespace, mounts the overlay, then execs bwrap with CMD as PID 1', () => {
    const argv = buildSandboxArgv(plan());
    expect(argv.slice(0, 3)).toEqual(['sh', '-c', expect.stringContaining('echo $$ > "$f"')]);
    expect(argv.slice(3, 6)).toEqual(['kiwi-join', '/sys/fs/cgroup/kiwi/1/cgroup.procs', '--']);
    expect(argv.slice(6, 11)).toEqual(['unshare', '--mount', '--propagation', 'private', '--']);
    expect(argv.slice(11, 16)).toEqual(['sh', '-c', expect.stringContaining('mount -t overlay'), 'kiwi-mount', 'lowerdir=/roots/deb,upperdir=/s/1/upper,workdir=/s/1/work']);
    const bwrap = argv.slice(argv.indexOf('bwrap'));
    expect(bwrap).toEqual(expect.arrayContaining(['--unshare-pid', '--unshare-uts', '--unshare-ipc', '--unshare-net', '--as-pid-1', '--die-with-parent', '--clearenv']));
    expect(bwrap.slice(bwrap.indexOf('--hostname'), bwrap.indexOf('--hostname') + 2)).toEqual(['--hostname', 'h']);
    expect(bwrap.slice(bwrap.indexOf('--json-status-fd'), bwrap.indexOf('--json-status-fd') + 2)).toEqual(['--json-status-fd', '3']);
    expect(bwrap.slice(-4)).toEqual(['--', '/bin/sh', '-c', 'echo $HOME']);
  });

  it('shares the network unless none, and skips the join without a cgroup', () => {
    const argv = buildSandboxArgv(plan({ network: 'box', cgroupProcs: [] }));
    expect(argv[0]).toBe('unshare');
    expect(argv).not.toContain('--unshare-net');
  });

  it('rootless: a user namespace mapping the user to root, and user xattrs for overlayfs', () => {
    const argv = buildSandboxArgv(plan({ userns: true, cgroupProcs: [] }));
    expect(argv.slice(0, 7)).toEqual(['unshare', '--user', '--map-root-user', '--mount', '--propagation', 'private', '--']);
    expect(overlayOptions(overlay, true)).toBe('userxattr,lowerdir=/roots/deb,upperdir=/s/1/upper,workdir=/s/1/work');
  });

  it('commits by remounting the layers privately and copying the merged tree', () => {
    expect(buildCommitArgv(overlay, false, '/out')).toEqual([
      'unshare', '--mount', '--propagation', 'private', '--',
      'sh', '-c', expect.stringContaining('cp -a $owners "$2/." "$3/"'), 'kiwi-commit', 'lowerdir=/roots/deb,upperdir=/s/1/upper,workdir=/s/1/work', '/s/1/merged', '/out',
    ]);
  });

  it('exports by remounting the layers privately, read-only, and running the command in the merged tree, told the upper layer', () => {
    expect(buildExportArgv(overlay, false, ['tar', '-cf', '/out.tar', '.'])).toEqual([
      'unshare', '--mount', '--propagation', 'private', '--',
      'sh', '-c', 'mount -t overlay kiwi -o "ro,$1" "$2" || exit 125; cd "$2" || exit 125; KIWI_EXPORT_UPPER=$3; export KIWI_EXPORT_UPPER; shift 3; exec "$@"', 'kiwi-export', 'lowerdir=/roots/deb,upperdir=/s/1/upper,workdir=/s/1/work', '/s/1/merged', '/s/1/upper',
      'tar', '-cf', '/out.tar', '.',
    ]);
  });

  it('quotes argv for copy-paste', () => {
    expect(shellQuote(['sh', '-c', "echo 'hi' $x", 'a/b'])).toBe(`sh -c 'echo '\\''hi'\\'' $x' a/b`);
  });
});
