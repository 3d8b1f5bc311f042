import fs from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { hostArch, type Arch } from './arch.js';
import { EnvironmentError } from './errors.js';

/**
 * Running another architecture's programs through binfmt_misc and qemu-user-static, as a
 * foreign-arch root is bootstrapped and configured (kiwi box build --arch, kiwi build
 * --target-arch). Used on the host and in the box alike.
 */
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

/** Where the host's binfmt_misc and qemu-user-static's registrations live (injectable for tests). */
export interface BinfmtPaths {
  /** The mounted binfmt_misc file system. */
  binfmtDir: string;
  /** systemd-binfmt's folders, searched in order for qemu-<arch>.conf. */
  confDirs: string[];
}

export const HOST_BINFMT: BinfmtPaths = {
  binfmtDir: '/proc/sys/fs/binfmt_misc',
  confDirs: ['/etc/binfmt.d', '/usr/lib/binfmt.d'],
};

export type ForeignExecStatus =
  /** The box is the host's own architecture: nothing to emulate. */
  | { status: 'native' }
  /** The kernel already runs `arch` binaries through qemu-user with a fixed interpreter. */
  | { status: 'present'; name: string }
  /** kiwi registered qemu-user-static's entry just now. */
  | { status: 'registered'; name: string; from: string; flags: string };

const QEMU_USER_HINT = 'install the Debian package qemu-user-static (apt-get install qemu-user-static, or kiwi doctor --fix)';

/**
 * Makes this host run `arch` binaries, which mmdebstrap needs to configure a foreign root
 * tree in a chroot (and the build's containers, to run its scripts): qemu-user-static's binfmt_misc entry, registered from its binfmt.d file
 * when missing (no systemd-binfmt or binfmt-support runs on build hosts and containers),
 * always with the F flag so the chroot needs no copy of the emulator. Needs root.
 */
export async function ensureForeignExec(arch: Arch, paths: BinfmtPaths = HOST_BINFMT, signal?: AbortSignal): Promise<ForeignExecStatus> {
  if (arch === hostArch()) return { status: 'native' };
  const name = qemuBinfmtName(arch);
  await ensureBinfmtMounted(paths.binfmtDir, signal);

  const current = await fs.readFile(path.join(paths.binfmtDir, name), 'utf8').catch(() => undefined);
  if (current !== undefined) {
    const enabled = current.split('\n')[0] === 'enabled';
    const flags = /^flags:\s*(\S*)/m.exec(current)?.[1] ?? '';
    if (enabled && flags.includes('F')) return { status: 'present', name };
    const entry = path.join(paths.binfmtDir, name);
    throw new EnvironmentError(
      enabled
        ? `binfmt_misc's ${name} entry has no F flag: mmdebstrap's ${arch} chroot cannot find its emulator`
        : `binfmt_misc's ${name} entry is disabled: this host cannot run ${arch} programs`,
      { hint: `remove it (echo -1 > ${entry}) and kiwi registers qemu-user-static's entry with the F flag` },
    );
  }

  const conf = await findConf(name, paths.confDirs);
  if (!conf) {
    throw new EnvironmentError(`this ${hostArch()} host cannot run ${arch} programs: no ${name}.conf of qemu-user-static in ${paths.confDirs.join(' or ')}`, {
      hint: QEMU_USER_HINT,
    });
  }
  const line = withFixBinaryFlag(conf.line);
  const interpreter = parseBinfmtLine(line)!.interpreter;
  if (!(await fs.stat(interpreter).catch(() => undefined))) {
    throw new EnvironmentError(`${conf.file} names the emulator ${interpreter}, which does not exist`, { hint: QEMU_USER_HINT });
  }
  try {
    await fs.writeFile(path.join(paths.binfmtDir, 'register'), line);
  } catch (error) {
    throw new EnvironmentError(`cannot register ${name} with binfmt_misc: ${(error as Error).message}`, {
      hint: `building for ${arch} needs root on a host whose binfmt_misc is writable (not inside an unprivileged container)`,
      cause: error,
    });
  }
  return { status: 'registered', name, from: conf.file, flags: parseBinfmtLine(line)!.flags };
}

/** A one-line account of what ensureForeignExec did, for the build's progress output. */
export function describeForeignExec(arch: Arch, result: ForeignExecStatus): string | undefined {
  if (result.status === 'registered') return `registered ${result.name} in binfmt_misc from ${result.from} (flags ${result.flags}): this host now runs ${arch} programs`;
  if (result.status === 'present') return `${arch} programs run through binfmt_misc's ${result.name}`;
  return undefined;
}

async function ensureBinfmtMounted(dir: string, signal?: AbortSignal): Promise<void> {
  if (await fs.stat(path.join(dir, 'register')).catch(() => undefined)) return;
  try {
    await execa('mount', ['-t', 'binfmt_misc', 'binfmt_misc', dir], { stdin: 'ignore', ...(signal ? { cancelSignal: signal } : {}) });
  } catch (error) {
    throw new EnvironmentError(`binfmt_misc is not mounted at ${dir} and mounting it failed`, {
      hint: `mount it (mount -t binfmt_misc binfmt_misc ${dir}) as root; the kernel needs CONFIG_BINFMT_MISC`,
      cause: error,
    });
  }
}

async function findConf(name: string, dirs: string[]): Promise<{ file: string; line: string } | undefined> {
  for (const dir of dirs) {
    const file = path.join(dir, `${name}.conf`);
    const text = await fs.readFile(file, 'utf8').catch(() => undefined);
    const line = text?.split('\n').find((candidate) => parseBinfmtLine(candidate)?.name === name);
    if (line) return { file, line: line.trim() };
  }
  return undefined;
}
