import type { Command } from 'commander';
import { hostArch, parseArch, type Arch } from '../common/arch.js';
import { UsageError } from '../common/errors.js';
import { parseSize } from '../common/units.js';
import { parseShareArg, type Share, type ShareBackend } from '../vm/shares/share-types.js';
import type { Accel } from '../vm/vm-spec.js';

/** The box options `kiwi box shell` and `kiwi boxbuild` share (KIWI's boxbuild names). */
export interface BoxOptionValues {
  arch?: string;
  x86_64?: boolean;
  aarch64?: boolean;
  boxMemory?: string;
  boxSmpCpus?: string;
  accel: string;
  sshPort?: string;
  boxTimeout: string;
  machine?: string;
  cpu?: string;
  updateCheck: boolean;
  /** commander's --no-snapshot: false when given. */
  snapshot?: boolean;
  boxConsole?: boolean;
  /** Repeated --share HOSTDIR:GUESTDIR[:ro]. */
  share?: string[];
  '9pSharing'?: boolean;
  virtiofsSharing?: boolean;
  sshfsSharing?: boolean;
}

export interface BoxSettings {
  arch: Arch;
  memoryMiB: number | undefined;
  cpus: number | undefined;
  accel: Accel | 'auto';
  sshPort: number | undefined;
  timeoutMs: number;
  machine: string | undefined;
  cpu: string | undefined;
  updateCheck: boolean;
  /** --no-snapshot: the box's root-disk changes kept for the next --no-snapshot VM. */
  persistent: boolean;
  console: boolean;
  shares: Share[];
  shareBackend: ShareBackend;
}

/** `archMeaning`: what --arch names, the box's architecture (box shell) or the image's (boxbuild). */
export function addBoxOptions(command: Command, archMeaning = 'box architecture'): Command {
  return command
    .option('--arch <arch>', `${archMeaning} (x86_64, aarch64); default: this host's`)
    .option('--x86_64', 'same as --arch x86_64')
    .option('--aarch64', 'same as --arch aarch64')
    .option('--box-memory <size>', 'guest memory: 4G, 2048M (a bare number is GiB); default: the box\'s')
    .option('--box-smp-cpus <n>', 'guest CPUs; default: the box\'s')
    .option('--accel <accel>', 'kvm, tcg or auto (KVM when it really works)', 'auto')
    .option('--ssh-port <port>', 'host port (on 127.0.0.1) for the box\'s SSH; default: a free one')
    .option('--box-timeout <seconds>', 'how long the box may take to boot', '120')
    .option('--machine <type>', 'QEMU machine type instead of the default (q35, virt)')
    .option('--cpu <model>', 'QEMU CPU model instead of the default (host under KVM; under TCG, max without the features TCG emulates slowly)')
    .option('--no-update-check', 'use the cached box as it is, without network')
    .option('--no-snapshot', 'keep the box\'s root disk changes for the next --no-snapshot run (one such VM at a time)')
    .option('--box-console', 'show the box\'s serial console while it boots')
    .option('--share <hostdir:guestdir[:ro]>', 'share a host directory into the box (repeatable; :ro refuses writes)', collect, [])
    .option('--9p-sharing', 'share directories with virtio-9p (default)')
    .option('--virtiofs-sharing', 'share directories with virtiofs (one virtiofsd per share)')
    .option('--sshfs-sharing', 'share directories with sshfs over the box\'s SSH connection (a jailed host sftp-server)');
}

/** commander's reducer for a repeatable option. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** The architecture --arch, --x86_64 or --aarch64 asked for, if any; conflicting ones are a usage error. */
export function requestedArch(values: Pick<BoxOptionValues, 'arch' | 'x86_64' | 'aarch64'>): Arch | undefined {
  const archFlags = [values.x86_64 && 'x86_64', values.aarch64 && 'aarch64', values.arch].filter(Boolean) as string[];
  if (new Set(archFlags.map(parseArch)).size > 1) throw new UsageError(`conflicting architectures: ${archFlags.join(', ')}`);
  return archFlags[0] ? parseArch(archFlags[0]) : undefined;
}

/** Validates the box options before anything boots. */
export function parseBoxOptions(values: BoxOptionValues): BoxSettings {
  const arch = requestedArch(values);
  if (!['kvm', 'tcg', 'auto'].includes(values.accel)) {
    throw new UsageError(`--accel ${values.accel}: not an accelerator`, { hint: 'use kvm, tcg or auto' });
  }
  return {
    arch: arch ?? hostArch(),
    memoryMiB: values.boxMemory === undefined ? undefined : parseMemoryMiB(values.boxMemory),
    cpus: values.boxSmpCpus === undefined ? undefined : parseCount(values.boxSmpCpus, '--box-smp-cpus', 1, 64),
    accel: values.accel as Accel | 'auto',
    sshPort: values.sshPort === undefined ? undefined : parseCount(values.sshPort, '--ssh-port', 1, 65535),
    timeoutMs: parseCount(values.boxTimeout, '--box-timeout', 1, 3600) * 1000,
    machine: values.machine,
    cpu: values.cpu,
    updateCheck: values.updateCheck,
    persistent: values.snapshot === false,
    console: Boolean(values.boxConsole),
    shares: (values.share ?? []).map((text) => parseShareArg(text)),
    shareBackend: parseShareBackend(values),
  };
}

/** At most one of --9p-sharing, --virtiofs-sharing, --sshfs-sharing; 9p when none is given. */
function parseShareBackend(values: BoxOptionValues): ShareBackend {
  const chosen = (
    [
      [values['9pSharing'], '9p'],
      [values.virtiofsSharing, 'virtiofs'],
      [values.sshfsSharing, 'sshfs'],
    ] as const
  ).filter(([flag]) => flag);
  if (chosen.length > 1) throw new UsageError(`choose one sharing backend: ${chosen.map(([, name]) => `--${name}-sharing`).join(', ')} were given`);
  return chosen[0]?.[1] ?? '9p';
}

/** "8" → 8 GiB (not KIWI's 8 MiB), "512M" → 512, "2GiB" → 2048. */
export function parseMemoryMiB(text: string): number {
  const withUnit = /^\d+(\.\d+)?$/.test(text.trim()) ? `${text.trim()}G` : text;
  const mib = Math.floor(parseSize(withUnit, '--box-memory') / 1024 ** 2);
  if (mib < 256) throw new UsageError(`--box-memory ${text}: a box needs at least 256 MiB`);
  return mib;
}

function parseCount(text: string, option: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) throw new UsageError(`${option} ${text}: must be a whole number from ${min} to ${max}`);
  return value;
}

/** --box-disk-size: "32G", "40GiB" (a bare number is GiB); a build needs at least 4 GiB. */
export function parseDiskSize(text: string): number {
  const bytes = parseSize(/^\d+(\.\d+)?$/.test(text.trim()) ? `${text.trim()}G` : text, '--box-disk-size');
  if (bytes < 4 * 1024 ** 3) throw new UsageError(`--box-disk-size ${text}: a build needs at least 4G`);
  return bytes;
}
