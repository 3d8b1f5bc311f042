import type { Arch } from '../common/arch.js';
import { ninepQemuArgs, qemuOption as option } from './shares/ninep.js';
import { virtiofsQemuArgs } from './shares/virtiofs.js';
import type { Accel, QemuCommand, VmDisk, VmShare, VmSpec } from './vm-spec.js';

/**
 * The machine model a box boots on unless --machine says otherwise. aarch64: the virt board
 * with a GICv3 (its ITS gives virtio-pci MSI-X; GICv2 tops out at 8 vCPUs); under KVM the
 * host's own GIC version, which is the only one KVM can offer.
 */
export function defaultMachine(arch: Arch, accel: Accel): string {
  if (arch === 'x86_64') return 'q35';
  return accel === 'kvm' ? 'virt,gic-version=host' : 'virt,gic-version=3';
}

/**
 * The CPU model unless --cpu says otherwise: the host's under KVM, QEMU's "max" under TCG,
 * less what is slower to emulate than what the guest would use without it.
 * - x86_64: no ERMS, whose `rep movsb` the kernel's and glibc's copies then use and TCG
 *   runs byte by byte (without it they move 8 bytes a step); no AVX/AVX2, whose glibc
 *   string functions TCG runs slower than the SSE2 ones. Measured in a box (bench/RESULTS.md,
 *   bench/boot): the boot 0.3 s shorter, localedef and copies 15-25 % faster.
 * - aarch64: max enables pointer authentication, and QEMU's default QARMA5 algorithm for
 *   it is slow to emulate (QEMU's docs advise pauth-impdef for speed).
 */
export function defaultCpu(arch: Arch, accel: Accel): string {
  if (accel === 'kvm') return 'host';
  return arch === 'aarch64' ? 'max,pauth-impdef=on' : 'max,-avx,-avx2,-erms';
}

/** -accel's value: TCG runs one host thread per vCPU (MTTCG), spelled out for a foreign guest. */
function accelArg(arch: Arch, accel: Accel): string {
  return arch === 'aarch64' && accel === 'tcg' ? 'tcg,thread=multi' : accel;
}

/**
 * virtio-net-pci loads an iPXE option ROM by default (efi-virtio.rom from ipxe-qemu, a fatal
 * error when missing). A directly booted kernel never runs it: aarch64 boxes load none.
 */
function netDevice(arch: Arch): string {
  return arch === 'aarch64' ? 'virtio-net-pci,netdev=net0,romfile=' : 'virtio-net-pci,netdev=net0';
}

/**
 * Turns a resolved VM spec into QEMU's argv. Pure: no file is read and nothing is probed,
 * so the exact argv is unit-tested. Devices are PCI virtio on both architectures, so the
 * box's initramfs loads the same drivers everywhere.
 */
export function buildQemuArgs(spec: VmSpec): QemuCommand {
  checkSpec(spec);
  const command = spec.qemuBinary ?? `qemu-system-${spec.arch}`;
  const args: string[] = [
    // No default devices, no config files from the host: the VM is exactly this argv.
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    // A kernel panic or a guest reboot ends QEMU instead of booting again.
    '-no-reboot',
    '-machine',
    spec.machine ?? defaultMachine(spec.arch, spec.accel),
    '-accel',
    accelArg(spec.arch, spec.accel),
    '-cpu',
    spec.cpu ?? defaultCpu(spec.arch, spec.accel),
    '-m',
    String(spec.memoryMiB),
    '-smp',
    String(spec.cpus),
    ...memoryBackendArgs(spec),
  ];
  // qboot is x86-only: it skips SeaBIOS's device scan and jumps to the PVH entry (≈1 s less under TCG).
  if (spec.bios && spec.arch === 'x86_64') args.push('-bios', spec.bios);
  args.push('-kernel', spec.kernel);
  if (spec.initrd) args.push('-initrd', spec.initrd);
  args.push('-append', spec.cmdline);
  args.push(...diskArgs(spec.disk), '-device', 'virtio-blk-pci,drive=root');
  // discard=unmap: blocks the guest frees (fstrim) leave the qcow2, so it holds only live data.
  (spec.dataDisks ?? []).forEach((disk, index) => {
    args.push(
      '-blockdev',
      `driver=file,node-name=data${index}-file,filename=${option(disk.file)},discard=unmap,${NO_FLUSH}`,
      '-blockdev',
      `driver=qcow2,node-name=data${index},file=data${index}-file,discard=unmap,${NO_FLUSH}`,
      '-device',
      `virtio-blk-pci,drive=data${index}`,
    );
  });
  args.push(
    '-netdev',
    `user,id=net0,hostfwd=tcp:127.0.0.1:${spec.sshPort}-:22`,
    '-device',
    netDevice(spec.arch),
  );
  for (const share of spec.shares ?? []) args.push(...shareArgs(share));
  for (const item of spec.fwCfg) args.push('-fw_cfg', `name=${option(item.name)},file=${option(item.file)}`);
  args.push('-chardev', `file,id=console,path=${option(spec.serialLog)}`, '-serial', 'chardev:console');
  if (spec.qmpSocket) args.push('-qmp', `unix:${option(spec.qmpSocket)},server=on,wait=off`);
  return { command, args };
}

/**
 * Block nodes spelled out with -blockdev, so the base is opened read-only by this argv itself
 * (not by whatever the overlay's header says) and every VM of a box can share it.
 */
function diskArgs(disk: VmDisk): string[] {
  if (!disk.overlay) {
    return [
      '-blockdev',
      `driver=file,node-name=root-file,filename=${option(disk.base)}`,
      '-blockdev',
      'driver=qcow2,node-name=root,file=root-file',
    ];
  }
  return [
    '-blockdev',
    `driver=file,node-name=base-file,filename=${option(disk.base)},read-only=on`,
    '-blockdev',
    'driver=qcow2,node-name=base,file=base-file,read-only=on',
    '-blockdev',
    `driver=file,node-name=overlay-file,filename=${option(disk.overlay)},${NO_FLUSH}`,
    '-blockdev',
    `driver=qcow2,node-name=root,file=overlay-file,backing=base,${NO_FLUSH}`,
  ];
}

/**
 * For a layer of one VM's own, thrown away with it (or committed only after QEMU has
 * closed it): the guest's flushes are not passed to the host disk. dpkg syncs every file it
 * unpacks, and each sync would otherwise wait for the host's disk. Writes still reach the
 * host's page cache at once, so a killed QEMU loses nothing; only a host crash could, and
 * then the layer is never used again.
 */
const NO_FLUSH = 'cache.no-flush=on';

/**
 * virtiofsd (vhost-user) reads and writes guest memory directly, so with a virtiofs share the
 * guest's RAM must be a shared memfd the daemon can map; -m still sets its size.
 */
function memoryBackendArgs(spec: VmSpec): string[] {
  if (!spec.shares?.some((share) => share.kind === 'virtiofs')) return [];
  return ['-object', `memory-backend-memfd,id=mem,size=${spec.memoryMiB}M,share=on`, '-numa', 'node,memdev=mem'];
}

function shareArgs(share: VmShare): string[] {
  return share.kind === '9p' ? ninepQemuArgs(share.share) : virtiofsQemuArgs(share.share, share.socket);
}

function checkSpec(spec: VmSpec): void {
  const problems: string[] = [];
  if (!Number.isInteger(spec.memoryMiB) || spec.memoryMiB < 128) problems.push(`memoryMiB ${spec.memoryMiB} (at least 128)`);
  if (!Number.isInteger(spec.cpus) || spec.cpus < 1) problems.push(`cpus ${spec.cpus} (at least 1)`);
  if (!Number.isInteger(spec.sshPort) || spec.sshPort < 1 || spec.sshPort > 65535) problems.push(`sshPort ${spec.sshPort}`);
  const tags = (spec.shares ?? []).map((share) => share.share.tag);
  if (new Set(tags).size !== tags.length) problems.push(`share tags ${tags.join(', ')} (must be unique)`);
  for (const tag of tags) if (!/^[A-Za-z0-9_-]{1,31}$/.test(tag)) problems.push(`share tag ${tag} (1-31 letters, digits, - or _)`);
  for (const item of spec.fwCfg) {
    if (!item.name.startsWith('opt/')) problems.push(`fw_cfg name ${item.name} (must start with "opt/")`);
  }
  // A programming error, not user input: the CLI validates user values before building a spec.
  if (problems.length) throw new Error(`internal: invalid VM spec: ${problems.join(', ')}`);
}
