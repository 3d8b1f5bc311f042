import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Arch } from './arch.js';
import { EnvironmentError, isErrno } from './errors.js';

/**
 * Running another architecture's programs through binfmt_misc and qemu-user-static, the way
 * a foreign-arch root is bootstrapped and configured. The registration needs the F flag: the
 * kernel then opens the emulator when it is registered, so it works inside containers and
 * chroots whose root has no emulator of its own.
 */

const BINFMT_DIR = '/proc/sys/fs/binfmt_misc';
/** Where qemu-user-static (Debian) keeps its registrations in the kernel's format. */
const BINFMT_CONF_DIR = '/usr/lib/binfmt.d';

/** qemu-user's name for an architecture (its binfmt entry is qemu-NAME). */
const QEMU_NAMES: Record<Arch, string> = { x86_64: 'x86_64', aarch64: 'aarch64' };

export interface BinfmtLine {
  name: string;
  interpreter: string;
  flags: string;
}

/** ":name:type:offset:magic:mask:interpreter:flags" (the kernel's register format). Pure. */
export function parseBinfmtLine(line: string): BinfmtLine | undefined {
  const trimmed = line.trim();
  if (!trimmed || trimmed.startsWith('#')) return undefined;
  const fields = trimmed.slice(1).split(trimmed[0]!);
  if (fields.length < 7 || !fields[0] || !fields[5]) return undefined;
  return { name: fields[0], interpreter: fields[5], flags: fields[6] ?? '' };
}

export interface BinfmtEntry {
  enabled: boolean;
  interpreter: string;
  flags: string;
}

/** What the kernel shows in binfmt_misc/NAME ("enabled", "interpreter P", "flags: OCF", ...). Pure. */
export function parseBinfmtEntry(text: string): BinfmtEntry {
  const lines = text.split('\n').map((line) => line.trim());
  return {
    enabled: lines[0] === 'enabled',
    interpreter: lines.find((line) => line.startsWith('interpreter '))?.slice('interpreter '.length) ?? '',
    flags: lines.find((line) => line.startsWith('flags:'))?.slice('flags:'.length).trim() ?? '',
  };
}

/** What ensureEmulation did: nothing to do, found a usable entry, or registered one. */
export type EmulationSetup = { kind: 'native' } | { kind: 'registered' | 'present'; name: string; interpreter: string };

/**
 * Makes `target`'s programs runnable on a `host` machine: nothing when they are the same,
 * else a binfmt_misc entry for qemu-user with the F flag, registered from qemu-user-static's
 * own file when the kernel has none (root only). Errors say which package or step is missing.
 */
export function ensureEmulation(target: Arch, host: Arch): EmulationSetup {
  if (target === host) return { kind: 'native' };
  const name = `qemu-${QEMU_NAMES[target]}`;
  mountBinfmtMisc();
  const current = readEntry(name);
  if (current) {
    if (!current.enabled) throw new EnvironmentError(`the binfmt_misc entry ${name} is disabled, so ${target} programs cannot run here`, { hint: `enable it: echo 1 > ${BINFMT_DIR}/${name}` });
    if (!current.flags.includes('F')) {
      throw new EnvironmentError(`the binfmt_misc entry ${name} lacks the F flag, so the build containers cannot see its emulator ${current.interpreter}`, {
        hint: `remove it (echo -1 > ${BINFMT_DIR}/${name}) and kiwi registers qemu-user-static's entry, which has F`,
      });
    }
    return { kind: 'present', name, interpreter: current.interpreter };
  }
  const line = readConfLine(name);
  if (!line || !fs.existsSync(line.parsed.interpreter)) {
    throw new EnvironmentError(`no ${target} emulator: ${path.join(BINFMT_CONF_DIR, `${name}.conf`)} or its interpreter is missing`, {
      hint: 'install qemu-user-static (apt-get install qemu-user-static)',
    });
  }
  if (!line.parsed.flags.includes('F')) throw new EnvironmentError(`${name}.conf registers ${name} without the F flag`, { hint: 'use Debian\'s qemu-user-static, whose entries have F' });
  try {
    fs.writeFileSync(path.join(BINFMT_DIR, 'register'), line.text);
  } catch (error) {
    // Another build registered it between our read and write.
    if (!isErrno(error, 'EEXIST')) throw registerError(name, error);
  }
  return { kind: 'registered', name, interpreter: line.parsed.interpreter };
}

function mountBinfmtMisc(): void {
  if (fs.existsSync(path.join(BINFMT_DIR, 'register'))) return;
  try {
    fs.mkdirSync(BINFMT_DIR, { recursive: true });
  } catch {
    // /proc/sys/fs/binfmt_misc exists on every kernel with binfmt_misc; mount reports the rest.
  }
  const result = spawnMount();
  if (result !== 0 || !fs.existsSync(path.join(BINFMT_DIR, 'register'))) {
    throw new EnvironmentError(`binfmt_misc is not mounted at ${BINFMT_DIR} and could not be mounted`, {
      hint: `as root: modprobe binfmt_misc && mount -t binfmt_misc binfmt_misc ${BINFMT_DIR}`,
    });
  }
}

function spawnMount(): number | null {
  // Synchronous: this runs once per build, before anything else is started.
  return spawnSync('mount', ['-t', 'binfmt_misc', 'binfmt_misc', BINFMT_DIR], { stdio: 'ignore' }).status;
}

function readEntry(name: string): BinfmtEntry | undefined {
  try {
    return parseBinfmtEntry(fs.readFileSync(path.join(BINFMT_DIR, name), 'utf8'));
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
}

function readConfLine(name: string): { text: string; parsed: BinfmtLine } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(BINFMT_CONF_DIR, `${name}.conf`), 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const parsed = parseBinfmtLine(line);
    if (parsed?.name === name) return { text: line.trim(), parsed };
  }
  return undefined;
}

function registerError(name: string, error: unknown): EnvironmentError {
  const reason = isErrno(error, 'EACCES') || isErrno(error, 'EPERM') ? 'permission denied (root only)' : String(error);
  return new EnvironmentError(`could not register the binfmt_misc entry ${name}: ${reason}`, { hint: 'run kiwi as root, or register qemu-user-static\'s entries (update-binfmts --enable, or systemd-binfmt)', cause: error });
}
