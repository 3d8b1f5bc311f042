import { UsageError } from '../../common/errors.js';

/**
 * Resolves the kernel modules a box's initramfs loads from the kernel's own index files
 * (modules.dep, modules.softdep, modules.alias, modules.builtin). Pure: the caller reads
 * the files; the result is a load order that insmod can follow without modprobe.
 */

export interface ModuleIndex {
  /** Module name (with "_", as the kernel spells it) → path relative to /lib/modules/<kver>/ and its dependencies' names. */
  modules: Map<string, { path: string; deps: string[] }>;
  /** Module name → names or aliases to load before it (softdep "pre:"). */
  softPre: Map<string, string[]>;
  /** Exact alias (no wildcards) → module names. */
  aliases: Map<string, string[]>;
  /** Modules built into the kernel: nothing to load. */
  builtin: Set<string>;
}

export interface ModuleIndexFiles {
  dep: string;
  softdep: string;
  alias: string;
  builtin: string;
}

export interface ResolvedModule {
  name: string;
  /** Relative to /lib/modules/<kver>/. */
  path: string;
  /** false: a softdep, loaded if it can be (a CPU-specific crypto driver may refuse). */
  required: boolean;
}

export interface ModuleResolution {
  /** Dependencies before dependents. */
  load: ResolvedModule[];
  /** Asked for but built into the kernel. */
  builtin: string[];
}

/** "kernel/fs/ext4/ext4.ko.xz" → "ext4"; "crc32c-intel" → "crc32c_intel". */
export function moduleNameOf(file: string): string {
  const base = file.split('/').pop() ?? file;
  return normalise(base.replace(/\.ko(\.(xz|zst|gz))?$/, ''));
}

const normalise = (name: string): string => name.replaceAll('-', '_');

export function parseModuleIndex(files: ModuleIndexFiles): ModuleIndex {
  const modules = new Map<string, { path: string; deps: string[] }>();
  for (const line of lines(files.dep)) {
    const [file, rest = ''] = line.split(':');
    if (!file) continue;
    modules.set(moduleNameOf(file), { path: file, deps: rest.trim().split(/\s+/).filter(Boolean).map(moduleNameOf) });
  }
  const softPre = new Map<string, string[]>();
  for (const line of lines(files.softdep)) {
    const match = /^softdep\s+(\S+)\s+(.*)$/.exec(line);
    if (!match?.[1] || !match[2]) continue;
    const pre = /pre:\s*(.*?)(?:\s+post:.*)?$/.exec(match[2])?.[1]?.trim();
    if (pre) softPre.set(normalise(match[1]), [...(softPre.get(normalise(match[1])) ?? []), ...pre.split(/\s+/)]);
  }
  const aliases = new Map<string, string[]>();
  for (const line of lines(files.alias)) {
    const [keyword, alias, module] = line.split(/\s+/);
    if (keyword !== 'alias' || !alias || !module || /[*?[]/.test(alias)) continue;
    aliases.set(alias, [...(aliases.get(alias) ?? []), normalise(module)]);
  }
  const builtin = new Set(lines(files.builtin).map(moduleNameOf));
  return { modules, softPre, aliases, builtin };
}

/** Every module in `wanted` and what it needs, dependencies first; unknown names are one error. */
export function resolveModules(index: ModuleIndex, wanted: string[], kernelVersion: string): ModuleResolution {
  const unknown = wanted.map(normalise).filter((name) => !index.modules.has(name) && !index.builtin.has(name));
  if (unknown.length) {
    throw new UsageError(`kernel ${kernelVersion} has no module named ${unknown.join(', ')}`, {
      hint: `fix "modules" in the box recipe; the names are those in /lib/modules/${kernelVersion}/modules.dep`,
    });
  }
  const load: ResolvedModule[] = [];
  const placed = new Map<string, ResolvedModule>();
  const builtin: string[] = [];
  const visiting = new Set<string>();

  const visit = (name: string, required: boolean): void => {
    const known = placed.get(name);
    if (known) {
      if (required) known.required = true;
      return;
    }
    if (index.builtin.has(name) && !index.modules.has(name)) return;
    const module = index.modules.get(name);
    if (!module || visiting.has(name)) return;
    visiting.add(name);
    for (const pre of index.softPre.get(name) ?? []) {
      for (const target of index.modules.has(normalise(pre)) ? [normalise(pre)] : (index.aliases.get(pre) ?? [])) visit(target, false);
    }
    for (const dep of module.deps) visit(dep, required);
    visiting.delete(name);
    const resolved = { name, path: module.path, required };
    placed.set(name, resolved);
    load.push(resolved);
  };

  for (const name of wanted.map(normalise)) {
    if (index.builtin.has(name) && !index.modules.has(name)) builtin.push(name);
    else visit(name, true);
  }
  return { load, builtin };
}

function lines(text: string): string[] {
  return text.split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));
}
