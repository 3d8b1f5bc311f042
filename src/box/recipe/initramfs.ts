import fs from 'node:fs/promises';
import path from 'node:path';
import { BoxBuildError, runTool } from './run-tool.js';
import { writeCpio, type CpioEntry } from './cpio.js';
import { parseModuleIndex, resolveModules, type ModuleResolution } from './kernel-modules.js';
import { withoutSignature } from './module-signature.js';

/** busybox applets the initramfs /init calls; each becomes a symlink in /bin. */
const APPLETS = ['sh', 'mount', 'umount', 'modprobe', 'mkdir', 'switch_root', 'poweroff', 'usleep'];

export interface InitramfsModule {
  name: string;
  /** Relative to /lib/modules/<kver>/, as modules.dep names it (without a compression suffix). */
  path: string;
  /** Paths (as above) of the modules it needs. */
  deps: string[];
  data: Buffer;
  required: boolean;
}

export interface InitramfsParts {
  /** A static busybox. */
  busybox: Buffer;
  /** The /init script. */
  init: Buffer;
  kernelVersion: string;
  /** In load order. */
  modules: InitramfsModule[];
}

/**
 * The initramfs contents. Pure. Uncompressed on purpose: under TCG the kernel's own
 * decompression is emulated and costs more than reading the larger file. The modules come
 * with a modules.dep of their own so one `modprobe -a` loads them all: under TCG every
 * exec costs about 0.1 s, and one insmod per module cost more than a second.
 */
export function initramfsEntries(parts: InitramfsParts): CpioEntry[] {
  const moduleDir = `lib/modules/${parts.kernelVersion}`;
  const files: CpioEntry[] = [
    { type: 'chardev', path: 'dev/console', major: 5, minor: 1 },
    { type: 'file', path: 'init', data: parts.init, mode: 0o755 },
    { type: 'file', path: 'bin/busybox', data: parts.busybox, mode: 0o755 },
    ...APPLETS.map((applet): CpioEntry => ({ type: 'symlink', path: `bin/${applet}`, target: 'busybox' })),
    {
      type: 'file',
      path: 'etc/kiwi-modules',
      data: Buffer.from(moduleList(parts.modules)),
    },
    {
      type: 'file',
      path: `${moduleDir}/modules.dep`,
      data: Buffer.from(parts.modules.map((m) => `${m.path}:${m.deps.map((d) => ` ${d}`).join('')}\n`).join('')),
    },
    ...parts.modules.map((m): CpioEntry => ({ type: 'file', path: `${moduleDir}/${m.path}`, data: m.data })),
  ];
  const dirs = new Set<string>(['proc', 'sys', 'newroot']);
  for (const entry of files) {
    for (let dir = path.posix.dirname(entry.path); dir !== '.'; dir = path.posix.dirname(dir)) dirs.add(dir);
  }
  const dirEntries = [...dirs].sort().map((dir): CpioEntry => ({ type: 'dir', path: dir }));
  return [...dirEntries, ...files];
}

/**
 * /etc/kiwi-modules: "<name> required|optional <group>" per line, in load order. The /init
 * runs one `modprobe -a` per group at the same time, so both vCPUs relocate modules (under
 * TCG that is most of the time modules take). Groups split the load order where half the
 * bytes are reached; a module of group 2 that needs one of group 1 waits for it in the
 * kernel, which refuses a second load of a module still coming up and lets modprobe go on.
 */
export function moduleList(modules: InitramfsModule[]): string {
  const total = modules.reduce((sum, m) => sum + m.data.length, 0);
  let loaded = 0;
  return modules
    .map((m) => {
      const group = loaded < total / 2 ? 1 : 2;
      loaded += m.data.length;
      return `${m.name} ${m.required ? 'required' : 'optional'} ${group}\n`;
    })
    .join('');
}

export interface BuiltInitramfs {
  cpio: Buffer;
  kernelVersion: string;
  resolution: ModuleResolution;
}

/** Builds the initramfs from a root tree holding the kernel's modules and busybox-static. */
export async function buildInitramfs(tree: string, wantedModules: string[], initScript: string, signal?: AbortSignal): Promise<BuiltInitramfs> {
  const kernelVersion = await kernelVersionOf(tree);
  const moduleDir = path.join(tree, 'usr/lib/modules', kernelVersion);
  const read = (name: string): Promise<string> => fs.readFile(path.join(moduleDir, name), 'utf8').catch(() => '');
  const index = parseModuleIndex({
    dep: await read('modules.dep'),
    softdep: await read('modules.softdep'),
    alias: await read('modules.alias'),
    builtin: await read('modules.builtin'),
  });
  if (index.modules.size === 0) throw new BoxBuildError(`${moduleDir}/modules.dep is missing or empty`, { hint: 'the kernel package did not run depmod; rebuild with --force' });
  const resolution = resolveModules(index, wantedModules, kernelVersion);
  const modules: InitramfsModule[] = [];
  const pathOf = new Map<string, string>();
  for (const module of resolution.load) {
    const read = await readModule(moduleDir, module.path, signal);
    pathOf.set(module.name, read.path);
    const deps = (index.modules.get(module.name)?.deps ?? []).map((dep) => pathOf.get(dep) ?? '').filter(Boolean);
    modules.push({ name: module.name, path: read.path, deps, data: read.data, required: module.required });
  }
  const busybox = await fs.readFile(path.join(tree, 'usr/bin/busybox')).catch(() => {
    throw new BoxBuildError('the root tree has no /usr/bin/busybox', { hint: 'add busybox-static to the packages of the box recipe' });
  });
  const init = await fs.readFile(initScript);
  return { cpio: writeCpio(initramfsEntries({ busybox, init, kernelVersion, modules })), kernelVersion, resolution };
}

/** The one kernel installed in the tree (its /usr/lib/modules/<version>). */
export async function kernelVersionOf(tree: string): Promise<string> {
  const versions = await fs.readdir(path.join(tree, 'usr/lib/modules')).catch(() => []);
  if (versions.length !== 1) {
    throw new BoxBuildError(`expected one kernel in the root tree, found ${versions.length ? versions.join(', ') : 'none'}`, {
      hint: 'the box recipe must install exactly one linux-image package for the architecture',
    });
  }
  return versions[0]!;
}

/**
 * A module as the initramfs holds it: unpacked (busybox insmod loads plain .ko files only)
 * and without its signature (see withoutSignature).
 */
async function readModule(moduleDir: string, modulePath: string, signal?: AbortSignal): Promise<{ path: string; data: Buffer }> {
  const data = await fs.readFile(path.join(moduleDir, modulePath));
  const decompressor: Record<string, [string, string[]]> = { '.xz': ['xz', ['-dc']], '.zst': ['zstd', ['-dcq']], '.gz': ['gzip', ['-dc']] };
  const suffix = path.extname(modulePath);
  const tool = decompressor[suffix];
  if (!tool) return { path: modulePath, data: withoutSignature(data, modulePath) };
  const { stdout } = await runTool(tool[0], tool[1], { input: data, binary: true, ...(signal ? { signal } : {}) });
  return { path: modulePath.slice(0, -suffix.length), data: withoutSignature(stdout as Buffer, modulePath) };
}
