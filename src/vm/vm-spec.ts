import type { Arch } from '../common/arch.js';
import type { TaggedShare } from './shares/share-types.js';

/** How QEMU executes guest code: hardware virtualisation or the TCG emulator. */
export type Accel = 'kvm' | 'tcg';

/** A file QEMU hands to the guest through fw_cfg (read at /sys/firmware/qemu_fw_cfg/by_name/NAME/raw). */
export interface FwCfgFile {
  /** fw_cfg item name; user items start with "opt/" (QEMU's rule), ours with "opt/org.kiwi/". */
  name: string;
  /** Host path of the file's contents. */
  file: string;
}

/** The root disk: a read-only base every VM shares, and this VM's own writable layer. */
export interface VmDisk {
  /** qcow2 base image (the box's root disk); opened read-only whenever an overlay is given. */
  base: string;
  /** Per-VM qcow2 overlay backed by `base`; absent: the VM writes through to `base` (--no-snapshot). */
  overlay?: string;
}

/** A further writable qcow2 disk (the build cache), seen in the guest as /dev/vdb, /dev/vdc, ... in this order. */
export interface DataDisk {
  /** Host path of the qcow2 image. */
  file: string;
}

/** A host directory exposed to the guest as a device (sshfs needs none: it runs over SSH). */
export type VmShare =
  | { kind: '9p'; share: TaggedShare }
  /** `socket`: the vhost-user socket of this share's virtiofsd, already listening. */
  | { kind: 'virtiofs'; share: TaggedShare; socket: string };

/**
 * Everything QEMU needs to boot one box VM, fully resolved: probing (accelerator, firmware,
 * free port) happens before this value exists, so turning it into argv is pure.
 */
export interface VmSpec {
  /** Guest architecture; selects qemu-system-<arch> and the machine model. */
  arch: Arch;
  accel: Accel;
  /** Guest memory in MiB. */
  memoryMiB: number;
  /** Guest vCPU count. */
  cpus: number;
  /** Kernel image for direct boot (x86_64: PVH ELF vmlinux; aarch64: Image). */
  kernel: string;
  /** Initramfs (uncompressed cpio); optional. */
  initrd?: string;
  /** Kernel command line. */
  cmdline: string;
  disk: VmDisk;
  /** Disks after the root disk. */
  dataDisks?: DataDisk[];
  /** Host TCP port on 127.0.0.1 forwarded to the guest's port 22. */
  sshPort: number;
  fwCfg: FwCfgFile[];
  /** Host file the guest's serial console is written to. */
  serialLog: string;
  /** QMP control socket path; absent: no QMP. */
  qmpSocket?: string;
  /** Machine model instead of the default (qemu-args.ts defaultMachine: q35, virt with GICv3). */
  machine?: string;
  /** CPU model instead of the default (qemu-args.ts defaultCpu: host under KVM, a trimmed max under TCG). */
  cpu?: string;
  /** Firmware image passed as -bios (x86_64: qboot when installed); absent: QEMU's default. */
  bios?: string;
  /** Shared directories; a virtiofs one makes guest memory a shared memfd (vhost-user needs it). */
  shares?: VmShare[];
  /** QEMU executable instead of qemu-system-<arch> from PATH. */
  qemuBinary?: string;
}

/** An argv ready for execa(command, args). */
export interface QemuCommand {
  command: string;
  args: string[];
}
