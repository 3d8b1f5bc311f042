import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ARCHES, type Arch } from '../common/arch.js';
import { UsageError } from '../common/errors.js';
import { formatZodIssues } from '../common/zod-issues.js';
import type { ShareBackend } from '../vm/shares/share-types.js';
import { CROSS_METHODS, type CrossMethod } from './cross-method.js';

/**
 * A batch file (`kiwi batch FILE`): the builds to run, each with its box and build
 * arguments. Paths are relative to the file's directory.
 *
 *   builds:
 *     - name: minimal                 # optional; default: the description's directory name
 *       box: debian                   # optional; default debian
 *       arch: aarch64                 # optional: the image's arch (default: this host's)
 *       cross: vm                     # optional, for a foreign arch: vm or binfmt
 *       description: descriptions/debian-minimal
 *       target-dir: out/minimal
 *       type: tbz                     # optional: --type
 *       profiles: [base]              # optional: --profile each
 *       args: [--add-package, vim]    # optional: any further build argument
 *       box-memory: 2G                # optional box options
 *       box-smp-cpus: 2
 *       sharing: virtiofs             # 9p (default), virtiofs or sshfs
 */
const buildEntrySchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, . _ - only').optional(),
  box: z.string().min(1).default('debian'),
  arch: z.enum(ARCHES).optional(),
  cross: z.enum(CROSS_METHODS).optional(),
  description: z.string().min(1),
  'target-dir': z.string().min(1),
  type: z.string().min(1).optional(),
  profiles: z.array(z.string().min(1)).default([]),
  args: z.array(z.string()).default([]),
  'box-memory': z.union([z.string(), z.number()]).optional(),
  'box-smp-cpus': z.number().int().min(1).max(64).optional(),
  sharing: z.enum(['9p', 'virtiofs', 'sshfs']).optional(),
});

const batchFileSchema = z.strictObject({ builds: z.array(buildEntrySchema).min(1, 'lists no build') });

/** One build of a batch, resolved: absolute paths, BUILD ARGS as kiwi build takes them. */
export interface BatchBuild {
  name: string;
  box: string;
  /** The image's architecture (KIWI's --aarch64), if the entry names one. */
  arch: Arch | undefined;
  /** How a foreign-arch image is built, if the entry chooses. */
  cross: CrossMethod | undefined;
  /** BUILD ARGS: --description, --target-dir, --type, --profile..., then the entry's args. */
  buildArgs: string[];
  targetDir: string;
  boxMemory: string | undefined;
  boxCpus: number | undefined;
  sharing: ShareBackend | undefined;
}

export function loadBatchFile(file: string): BatchBuild[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read the batch file ${file}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (error) {
    throw new UsageError(`${file} is not valid YAML: ${(error as Error).message}`);
  }
  const parsed = batchFileSchema.safeParse(value);
  if (!parsed.success) throw new UsageError(`invalid batch file ${file}:\n${formatZodIssues(parsed.error)}`, { hint: 'see kiwi batch --help for the format' });
  return resolveBatch(parsed.data.builds, path.dirname(path.resolve(file)), file);
}

function resolveBatch(entries: z.infer<typeof buildEntrySchema>[], baseDir: string, file: string): BatchBuild[] {
  const builds = entries.map((entry): BatchBuild => {
    const description = path.resolve(baseDir, entry.description);
    const targetDir = path.resolve(baseDir, entry['target-dir']);
    return {
      name: entry.name ?? path.basename(description),
      box: entry.box,
      arch: entry.arch,
      cross: entry.cross,
      buildArgs: [
        '--description', description,
        '--target-dir', targetDir,
        ...(entry.type ? ['--type', entry.type] : []),
        ...entry.profiles.flatMap((profile) => ['--profile', profile]),
        ...entry.args,
      ],
      targetDir,
      boxMemory: entry['box-memory'] === undefined ? undefined : String(entry['box-memory']),
      boxCpus: entry['box-smp-cpus'],
      sharing: entry.sharing,
    };
  });
  const problems: string[] = [];
  const seen = (key: (build: BatchBuild) => string, what: string) => {
    const counts = new Map<string, number>();
    for (const build of builds) counts.set(key(build), (counts.get(key(build)) ?? 0) + 1);
    for (const [value, count] of counts) if (count > 1) problems.push(`${count} builds have the ${what} ${value}`);
  };
  seen((build) => build.name, 'name');
  seen((build) => build.targetDir, 'target dir');
  if (problems.length) throw new UsageError(`invalid batch file ${file}:\n${problems.join('\n')}`, { hint: 'give each build its own name: and target-dir:' });
  return builds;
}
