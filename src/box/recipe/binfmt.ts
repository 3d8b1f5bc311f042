import type { Arch } from '../../common/arch.js';

/** One binfmt_misc registration in the kernel's register format ":name:type:offset:magic:mask:interpreter:flags". */
export interface BinfmtEntry {
  name: string;
  interpreter: string;
  /** Single-letter flags (P preserve argv[0], O pass an open fd, C credentials, F fix the interpreter at registration). */
  flags: string;
}

/** Parses one line of a binfmt.d file; comments, blanks and malformed lines give undefined. Pure. */
export function parseBinfmtLine(line: string): BinfmtEntry | undefined {
  const trimmed = line.trim();
  if (!trimmed || trimmed.startsWith('#')) return undefined;
  const fields = trimmed.slice(1).split(trimmed[0]!);
  if (fields.length < 7 || !fields[0] || !fields[5]) return undefined;
  return { name: fields[0], interpreter: fields[5], flags: fields[6] ?? '' };
}

/**
 * The same registration with the F flag: the kernel opens the interpreter once, at
 * registration, so it also runs binaries inside a chroot that has no copy of it
 * (mmdebstrap's foreign-arch bootstrap). Pure.
 */
export function withFixBinaryFlag(line: string): string {
  const trimmed = line.trim();
  const separator = trimmed[0]!;
  const fields = trimmed.slice(1).split(separator);
  const flags = fields[6] ?? '';
  if (flags.includes('F')) return trimmed;
  fields[6] = `${flags}F`;
  return `${separator}${fields.join(separator)}`;
}

/** The name qemu-user-static registers for binaries of `arch` (qemu-aarch64, qemu-x86_64). */
export function qemuBinfmtName(arch: Arch): string {
  return `qemu-${arch}`;
}
