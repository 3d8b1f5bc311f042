import fs from 'node:fs/promises';
import { execa } from 'execa';
import { hostArch, type Arch } from '../common/arch.js';
import type { Accel } from './vm-spec.js';

export interface AccelProbeResult {
  accel: Accel;
  /** Why KVM is not used, when it is not; shown as a one-line notice. */
  reason?: string;
}

export interface KvmProbeOptions {
  /** The guest's architecture (the host's: KVM runs no other); picks QEMU and the console. */
  arch: Arch;
  /** The kernel the VM will boot: a probe must run the guest code that matters. */
  kernel: string;
  /** The machine and CPU model the VM will use (KVM may reject a CPU model outright). */
  machine: string;
  cpu: string;
  /** How long the kernel may take to print its first console line, in ms. */
  timeoutMs?: number;
  qemuBinary?: string;
}

/** Kernel arguments that make the first console line appear as early as the arch allows. */
const EARLY_CONSOLE: Record<Arch, string> = {
  x86_64: 'console=ttyS0 earlyprintk=serial,ttyS0',
  aarch64: 'console=ttyAMA0 earlycon',
};

/** Why this user cannot open /dev/kvm; undefined if it can (which does not mean KVM works). */
export async function kvmDeviceProblem(): Promise<string | undefined> {
  try {
    await fs.access('/dev/kvm', fs.constants.R_OK | fs.constants.W_OK);
    return undefined;
  } catch {
    return '/dev/kvm is missing or not accessible to this user';
  }
}

/**
 * Whether KVM really runs this kernel here. /dev/kvm can exist while a guest hangs
 * (nested virtualisation) or QEMU aborts on an MSR it cannot set; both were seen on
 * this project's CI hosts, and a tiny real-mode guest passes on them. So the VM's own
 * kernel is booted with the VM's own CPU model and must print within the timeout.
 */
export async function probeKvm(options: KvmProbeOptions): Promise<AccelProbeResult> {
  const unusable = await kvmDeviceProblem();
  if (unusable) return { accel: 'tcg', reason: unusable };
  const timeoutMs = options.timeoutMs ?? 3000;
  const child = execa(
    options.qemuBinary ?? `qemu-system-${options.arch}`,
    ['-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot', '-machine', options.machine,
      '-accel', 'kvm', '-cpu', options.cpu, '-m', '256', '-kernel', options.kernel,
      '-append', `${EARLY_CONSOLE[options.arch]} panic=-1`, '-serial', 'stdio'],
    { reject: false, timeout: timeoutMs, forceKillAfterDelay: 500, stdin: 'ignore', buffer: { stdout: false } },
  );
  let printed = false;
  child.stdout.once('data', () => {
    printed = true;
    child.kill('SIGKILL');
  });
  const result = await child;
  if (printed) return { accel: 'kvm' };
  if (result.timedOut) return { accel: 'tcg', reason: `a KVM guest printed nothing within ${timeoutMs / 1000}s (nested KVM?)` };
  const firstLine = (result.stderr ?? '').split('\n').find((line) => line.includes('error')) ?? `exit code ${String(result.exitCode)}`;
  return { accel: 'tcg', reason: `KVM failed: ${firstLine.trim()}` };
}

/**
 * The accelerator for a VM of `arch`: KVM only for the host's own arch and only if the
 * probe passes; `auto` falls back to TCG with the reason, `kvm` keeps KVM and says why it
 * may fail.
 */
export async function chooseAccel(requested: Accel | 'auto', arch: Arch, probe: () => Promise<AccelProbeResult>): Promise<AccelProbeResult> {
  if (requested === 'tcg') return { accel: 'tcg' };
  if (arch !== hostArch()) return { accel: 'tcg', reason: `KVM cannot run ${arch} guests on this ${hostArch()} host` };
  const result = await probe();
  if (requested === 'kvm' && result.accel !== 'kvm') return { accel: 'kvm', reason: result.reason };
  return result;
}
