import type { Arch } from '../../common/arch.js';

const DEBIAN: Record<Arch, string> = { x86_64: 'amd64', aarch64: 'arm64' };

/** Spellings of the same architecture in KIWI's arch attributes (uname -m and Debian). */
const SAME: Record<Arch, string[]> = { x86_64: ['x86_64', 'amd64'], aarch64: ['aarch64', 'arm64'] };

/** Debian's name for an architecture (what %arch and apt's [arch=] take). */
export function debianArch(arch: Arch): string {
  return DEBIAN[arch];
}

/** Debian's name for any spelling KIWI's arch-name allows; unknown ones pass through. */
export function toDebianArch(name: string): string {
  for (const [arch, names] of Object.entries(SAME)) if (names.includes(name)) return DEBIAN[arch as Arch];
  return name;
}

/**
 * Whether an element with `arch="..."` applies to the target: no list means always,
 * as in KIWI. amd64/arm64 count as x86_64/aarch64 (KIWI's schema allows both spellings).
 */
export function archMatches(list: readonly string[] | undefined, arch: Arch): boolean {
  return list === undefined || list.some((name) => SAME[arch].includes(name));
}
