import { describe, expect, it } from 'vitest';
import { buildQemuArgs } from '../../src/vm/qemu-args.js';
import type { VmSpec } from '../../src/vm/vm-spec.js';

const x86: VmSpec = {
  arch: 'x86_64',
  accel: 'tcg',
  memoryMiB: 2048,
  cpus: 2,
  kernel: '/cache/debian/x86_64/current/vmlinux',
  initrd: '/cache/debian/x86_64/current/initrd.cpio',
  cmdline: 'console=ttyS0 quiet panic=-1',
  disk: { base: '/cache/debian/x86_64/current/root.qcow2', overlay: '/run/vm1/overlay.qcow2' },
  sshPort: 40022,
  fwCfg: [
    { name: 'opt/org.kiwi/ssh_host_ed25519_key', file: '/run/vm1/host_key' },
    { name: 'opt/org.kiwi/authorized_keys', file: '/run/vm1/authorized_keys' },
  ],
  serialLog: '/run/vm1/console.log',
  bios: '/usr/share/qemu/qboot.rom',
};

describe('buildQemuArgs', () => {
  it('boots x86_64 under TCG with qboot, a read-only base, an overlay, fw_cfg keys and a 127.0.0.1 SSH forward', () => {
    expect(buildQemuArgs(x86)).toEqual({
      command: 'qemu-system-x86_64',
      args: [
        '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
        '-machine', 'q35', '-accel', 'tcg', '-cpu', 'max,-avx,-avx2,-erms', '-m', '2048', '-smp', '2',
        '-bios', '/usr/share/qemu/qboot.rom',
        '-kernel', '/cache/debian/x86_64/current/vmlinux',
        '-initrd', '/cache/debian/x86_64/current/initrd.cpio',
        '-append', 'console=ttyS0 quiet panic=-1',
        '-blockdev', 'driver=file,node-name=base-file,filename=/cache/debian/x86_64/current/root.qcow2,read-only=on',
        '-blockdev', 'driver=qcow2,node-name=base,file=base-file,read-only=on',
        '-blockdev', 'driver=file,node-name=overlay-file,filename=/run/vm1/overlay.qcow2,cache.no-flush=on',
        '-blockdev', 'driver=qcow2,node-name=root,file=overlay-file,backing=base,cache.no-flush=on',
        '-device', 'virtio-blk-pci,drive=root',
        '-netdev', 'user,id=net0,hostfwd=tcp:127.0.0.1:40022-:22',
        '-device', 'virtio-net-pci,netdev=net0',
        '-fw_cfg', 'name=opt/org.kiwi/ssh_host_ed25519_key,file=/run/vm1/host_key',
        '-fw_cfg', 'name=opt/org.kiwi/authorized_keys,file=/run/vm1/authorized_keys',
        '-chardev', 'file,id=console,path=/run/vm1/console.log', '-serial', 'chardev:console',
      ],
    });
  });

  it('boots aarch64 under multi-threaded TCG on virt with a GICv3, max CPU with the cheap pointer auth, PCI virtio devices, no option ROM and no -bios', () => {
    const spec: VmSpec = {
      ...x86,
      arch: 'aarch64',
      kernel: '/box/Image',
      initrd: '/box/initrd.cpio',
      cmdline: 'console=ttyAMA0',
      disk: { base: '/box/root.qcow2', overlay: '/vm/overlay.qcow2' },
      fwCfg: [{ name: 'opt/org.kiwi/authorized_keys', file: '/vm/ak' }],
      serialLog: '/vm/console.log',
      qmpSocket: '/vm/qmp.sock',
    };
    expect(buildQemuArgs(spec)).toEqual({
      command: 'qemu-system-aarch64',
      args: [
        '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
        '-machine', 'virt,gic-version=3', '-accel', 'tcg,thread=multi', '-cpu', 'max,pauth-impdef=on', '-m', '2048', '-smp', '2',
        '-kernel', '/box/Image',
        '-initrd', '/box/initrd.cpio',
        '-append', 'console=ttyAMA0',
        '-blockdev', 'driver=file,node-name=base-file,filename=/box/root.qcow2,read-only=on',
        '-blockdev', 'driver=qcow2,node-name=base,file=base-file,read-only=on',
        '-blockdev', 'driver=file,node-name=overlay-file,filename=/vm/overlay.qcow2,cache.no-flush=on',
        '-blockdev', 'driver=qcow2,node-name=root,file=overlay-file,backing=base,cache.no-flush=on',
        '-device', 'virtio-blk-pci,drive=root',
        '-netdev', 'user,id=net0,hostfwd=tcp:127.0.0.1:40022-:22',
        '-device', 'virtio-net-pci,netdev=net0,romfile=',
        '-fw_cfg', 'name=opt/org.kiwi/authorized_keys,file=/vm/ak',
        '-chardev', 'file,id=console,path=/vm/console.log', '-serial', 'chardev:console',
        '-qmp', 'unix:/vm/qmp.sock,server=on,wait=off',
      ],
    });
  });

  it('uses -cpu host under KVM and honours machine, cpu and binary overrides', () => {
    const { command, args } = buildQemuArgs({ ...x86, accel: 'kvm', machine: 'pc', qemuBinary: '/opt/qemu/bin/qemu-system-x86_64' });
    expect(command).toBe('/opt/qemu/bin/qemu-system-x86_64');
    expect(args.slice(5, 11)).toEqual(['-machine', 'pc', '-accel', 'kvm', '-cpu', 'host']);
    expect(buildQemuArgs({ ...x86, cpu: 'Haswell' }).args.slice(9, 11)).toEqual(['-cpu', 'Haswell']);
  });

  it('boots aarch64 under KVM (an aarch64 host) with the host CPU and the host GIC, and honours --machine and --cpu there too', () => {
    const arm: VmSpec = { ...x86, arch: 'aarch64', bios: undefined };
    expect(buildQemuArgs({ ...arm, accel: 'kvm' }).args.slice(5, 11)).toEqual(['-machine', 'virt,gic-version=host', '-accel', 'kvm', '-cpu', 'host']);
    expect(buildQemuArgs({ ...arm, machine: 'virt', cpu: 'cortex-a57' }).args.slice(5, 11)).toEqual(['-machine', 'virt', '-accel', 'tcg,thread=multi', '-cpu', 'cortex-a57']);
  });

  it('gives virtiofs its shared memfd guest memory on aarch64 too', () => {
    const share = { tag: 'kiwi0', hostDir: '/out', guestDir: '/out', readOnly: false };
    const { args } = buildQemuArgs({ ...x86, arch: 'aarch64', bios: undefined, shares: [{ kind: 'virtiofs', share, socket: '/vm/vfs.sock' }] });
    expect(args.slice(args.indexOf('-object'), args.indexOf('-kernel'))).toEqual(['-object', 'memory-backend-memfd,id=mem,size=2048M,share=on', '-numa', 'node,memdev=mem']);
    expect(args).toContain('vhost-user-fs-pci,chardev=vfs-kiwi0,tag=kiwi0,queue-size=1024');
  });

  it('writes through to the base disk, opened read-write and with the guest\'s flushes kept, when there is no overlay (--no-snapshot)', () => {
    const { args } = buildQemuArgs({ ...x86, disk: { base: '/box/root.qcow2' } });
    const blockdevs = args.flatMap((arg, i) => (args[i - 1] === '-blockdev' ? [arg] : []));
    expect(blockdevs).toEqual(['driver=file,node-name=root-file,filename=/box/root.qcow2', 'driver=qcow2,node-name=root,file=root-file']);
  });

  it('attaches data disks after the root disk, writable, each on its own virtio-blk device (a VM\'s own layer: no flushes)', () => {
    const { args } = buildQemuArgs({ ...x86, dataDisks: [{ file: '/cache/build.qcow2' }, { file: '/vm/scratch.qcow2' }] });
    const devices = args.flatMap((arg, i) => (args[i - 1] === '-device' && arg.startsWith('virtio-blk') ? [arg] : []));
    expect(devices).toEqual(['virtio-blk-pci,drive=root', 'virtio-blk-pci,drive=data0', 'virtio-blk-pci,drive=data1']);
    expect(args).toContain('driver=file,node-name=data0-file,filename=/cache/build.qcow2,discard=unmap,cache.no-flush=on');
    expect(args).toContain('driver=qcow2,node-name=data1,file=data1-file,discard=unmap,cache.no-flush=on');
    expect(args.join(' ')).not.toContain('data0-file,filename=/cache/build.qcow2,read-only');
  });

  it('doubles commas in paths, as QEMU option syntax requires', () => {
    const { args } = buildQemuArgs({ ...x86, serialLog: '/tmp/a,b/console.log', fwCfg: [{ name: 'opt/x', file: '/k,1' }] });
    expect(args).toContain('file,id=console,path=/tmp/a,,b/console.log');
    expect(args).toContain('name=opt/x,file=/k,,1');
  });

  it('leaves out -initrd and -bios when not given, and never passes -bios on aarch64', () => {
    const { args } = buildQemuArgs({ ...x86, initrd: undefined, bios: undefined });
    expect(args).not.toContain('-initrd');
    expect(args).not.toContain('-bios');
    expect(buildQemuArgs({ ...x86, arch: 'aarch64' }).args).not.toContain('-bios');
  });

  it('rejects a spec no QEMU could run', () => {
    expect(() => buildQemuArgs({ ...x86, memoryMiB: 64 })).toThrow(/memoryMiB 64/);
    expect(() => buildQemuArgs({ ...x86, sshPort: 0 })).toThrow(/sshPort 0/);
    expect(() => buildQemuArgs({ ...x86, fwCfg: [{ name: 'kiwi/key', file: '/k' }] })).toThrow(/must start with "opt\/"/);
  });
  it('adds 9p and virtiofs share devices, and a shared memfd guest memory once a virtiofs share exists', () => {
    const spec: VmSpec = {
      ...x86,
      shares: [
        { kind: '9p', share: { tag: 'kiwi0', hostDir: '/src', guestDir: '/src', readOnly: true } },
        { kind: 'virtiofs', share: { tag: 'kiwi1', hostDir: '/out', guestDir: '/out', readOnly: false }, socket: '/run/vm1/virtiofs-kiwi1.sock' },
      ],
    };
    const { args } = buildQemuArgs(spec);
    expect(args.slice(args.indexOf('-m'), args.indexOf('-bios'))).toEqual([
      '-m', '2048', '-smp', '2',
      '-object', 'memory-backend-memfd,id=mem,size=2048M,share=on', '-numa', 'node,memdev=mem',
    ]);
    expect(args.slice(args.indexOf('-fsdev'), args.indexOf('-fw_cfg'))).toEqual([
      '-fsdev', 'local,id=fs-kiwi0,path=/src,security_model=none,multidevs=remap,readonly=on',
      '-device', 'virtio-9p-pci,fsdev=fs-kiwi0,mount_tag=kiwi0',
      '-chardev', 'socket,id=vfs-kiwi1,path=/run/vm1/virtiofs-kiwi1.sock',
      '-device', 'vhost-user-fs-pci,chardev=vfs-kiwi1,tag=kiwi1,queue-size=1024',
    ]);
  });

  it('keeps plain -m memory with 9p shares only, and refuses duplicate share tags', () => {
    const share = { tag: 'kiwi0', hostDir: '/src', guestDir: '/src', readOnly: false };
    expect(buildQemuArgs({ ...x86, shares: [{ kind: '9p', share }] }).args).not.toContain('-object');
    expect(() => buildQemuArgs({ ...x86, shares: [{ kind: '9p', share }, { kind: '9p', share }] })).toThrow('must be unique');
  });
});
