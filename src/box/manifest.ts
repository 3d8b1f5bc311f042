import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ARCHES } from '../common/arch.js';
import { EnvironmentError } from '../common/errors.js';
import { formatZodIssues } from '../common/zod-issues.js';

/** A file path inside a box: relative, no "..", no empty or hidden segments. */
const boxFilePath = z
  .string()
  .regex(/^[A-Za-z0-9_][A-Za-z0-9._+-]*(\/[A-Za-z0-9_][A-Za-z0-9._+-]*)*$/, {
    message: 'must be a relative path of plain names (no "..", no leading "/" or ".")',
  });

export const boxFileSchema = z.strictObject({
  /** Relative to the manifest's URL; also the file's name in the cache. */
  path: boxFilePath,
  role: z.enum(['kernel', 'initrd', 'disk']),
  /** Lower-case hex sha256 of the file's bytes. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/, { message: 'must be 64 lower-case hex digits' }),
  /** In bytes. */
  size: z.number().int().nonnegative(),
});

export const manifestSchema = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/),
    version: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/),
    arch: z.enum(ARCHES),
    files: z.array(boxFileSchema).min(1),
    /** Kernel command line the box boots with. */
    cmdline: z.string(),
    /** Default guest memory in MiB. */
    memoryMiB: z.number().int().min(128),
    /** Default guest CPU count. */
    cpus: z.number().int().min(1),
    /** Share backends the box's kernel and userland support. */
    shares: z.array(z.enum(['9p', 'virtiofs', 'sshfs'])).default(['9p', 'virtiofs', 'sshfs']),
    /** Version of the Node.js that runs the in-box runtime. */
    node: z.string().optional(),
  })
  .superRefine((manifest, ctx) => {
    const seen = new Set<string>();
    manifest.files.forEach((file, index) => {
      if (seen.has(file.path)) {
        ctx.addIssue({ code: 'custom', path: ['files', index, 'path'], message: `duplicate path ${file.path}` });
      }
      seen.add(file.path);
    });
    for (const role of ['kernel', 'disk'] as const) {
      if (!manifest.files.some((file) => file.role === role)) {
        ctx.addIssue({ code: 'custom', path: ['files'], message: `no file with role "${role}"` });
      }
    }
  });

export type BoxManifest = z.infer<typeof manifestSchema>;
export type BoxFile = z.infer<typeof boxFileSchema>;

export interface ParsedManifest {
  manifest: BoxManifest;
  /** The manifest's bytes as fetched; stored verbatim so its id can be recomputed. */
  text: string;
  /** `<version>-<12 hex of the text's sha256>`: changes whenever the manifest does. */
  id: string;
}

/** Parses a manifest fetched from `source`; every problem is named with its field path. */
export function parseManifest(text: string, source: string): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new EnvironmentError(`bad box manifest ${source}: not JSON (${(error as Error).message})`, {
      hint: 'the box server publishes a broken box.json; check the catalog URL',
    });
  }
  const result = manifestSchema.safeParse(json);
  if (!result.success) {
    throw new EnvironmentError(`bad box manifest ${source}: ${formatZodIssues(result.error)}`, {
      hint: 'the box server publishes a broken box.json; check the catalog URL',
    });
  }
  const digest = createHash('sha256').update(text).digest('hex');
  return { manifest: result.data, text, id: `${result.data.version}-${digest.slice(0, 12)}` };
}
