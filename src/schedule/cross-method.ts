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

/** The default for a foreign target (bench/RESULTS.md, "cross": why this one). */
export const DEFAULT_CROSS_METHOD: CrossMethod = 'binfmt';

export function parseCrossChoice(text: string | undefined): CrossChoice {
  if (text === undefined || text === 'auto') return 'auto';
  if ((CROSS_METHODS as readonly string[]).includes(text)) return text as CrossMethod;
  throw new UsageError(`--cross ${text}: not a cross-build method`, { hint: `use ${CROSS_METHODS.join(' or ')} (default: ${DEFAULT_CROSS_METHOD})` });
}

/** Which box builds a `target` image on a `host` machine, and by which method. Pure. */
export function boxArchFor(target: Arch, host: Arch, choice: CrossChoice): { boxArch: Arch; cross: CrossMethod | undefined } {
  if (target === host) return { boxArch: host, cross: undefined };
  const cross = choice === 'auto' ? DEFAULT_CROSS_METHOD : choice;
  return { boxArch: cross === 'vm' ? target : host, cross };
}
