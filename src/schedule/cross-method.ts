import type { Arch } from '../common/arch.js';
import { UsageError } from '../common/errors.js';

/**
 * The two ways to build for another architecture: boot that architecture's box under full
 * emulation (vm), or build in this host's box with the target's programs run by qemu-user
 * through binfmt_misc (binfmt).
 */
export const CROSS_METHODS = ['vm', 'binfmt'] as const;
export type CrossMethod = (typeof CROSS_METHODS)[number];
export type CrossChoice = CrossMethod | 'auto';

export function parseCrossChoice(text: string | undefined): CrossChoice {
  if (text === undefined || text === 'auto') return 'auto';
  if ((CROSS_METHODS as readonly string[]).includes(text)) return text as CrossMethod;
  throw new UsageError(`--cross ${text}: not a cross-build method`, { hint: `use ${CROSS_METHODS.join(' or ')} (default: the faster here)` });
}

/**
 * The faster method on this host (bench/RESULTS.md, "bench/cross"): with KVM the host's box
 * runs at native speed and only the target's programs are emulated, by qemu-user (binfmt);
 * under TCG the host's box is emulated already, and qemu-user inside it is emulation on
 * emulation, far slower than booting the target's box (vm). `hostBoxKvm` is whether KVM
 * runs this host's box: undefined when not known yet (no box booted since the host did).
 */
export function defaultCrossMethod(hostBoxKvm: boolean | undefined): CrossMethod {
  return hostBoxKvm ? 'binfmt' : 'vm';
}

/** Which box builds a `target` image on a `host` machine, and by which method. Pure. */
export function boxArchFor(target: Arch, host: Arch, choice: CrossChoice, hostBoxKvm: boolean | undefined): { boxArch: Arch; cross: CrossMethod | undefined } {
  if (target === host) return { boxArch: host, cross: undefined };
  const cross = choice === 'auto' ? defaultCrossMethod(hostBoxKvm) : choice;
  return { boxArch: cross === 'vm' ? target : host, cross };
}
