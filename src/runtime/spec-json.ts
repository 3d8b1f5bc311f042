import { z } from 'zod';
import { UsageError } from '../common/errors.js';
import { formatZodIssues } from '../common/zod-issues.js';
import type { ContainerSpec } from './spec.js';

const absolute = z.string().startsWith('/', 'must be an absolute path');

/** A ContainerSpec as the host sends it into a box (kiwi run --box): the same shape, checked. */
const containerSpecSchema = z.strictObject({
  root: z.strictObject({ kind: z.enum(['dir', 'image']), path: absolute }),
  argv: z.array(z.string()).min(1),
  limits: z.strictObject({
    memoryBytes: z.number().int().positive().optional(),
    swapBytes: z.number().int().nonnegative().optional(),
    cpu: z.strictObject({ quotaUsec: z.number().int().positive(), periodUsec: z.number().int().positive() }).optional(),
    pids: z.number().int().positive().optional(),
    cpuset: z.string().optional(),
  }),
  network: z.enum(['box', 'none']),
  hostname: z.string().min(1),
  binds: z.array(z.strictObject({ source: absolute, target: absolute, readOnly: z.boolean() })),
  commitDir: absolute.optional(),
  commitOnFailure: z.boolean().optional(),
  exportArgv: z.array(z.string()).min(1).optional(),
  workdir: absolute,
});

export function parseContainerSpec(text: string): ContainerSpec {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError('the container spec is not JSON', { cause: error });
  }
  const parsed = containerSpecSchema.safeParse(value);
  if (!parsed.success) throw new UsageError(`invalid container spec:\n${formatZodIssues(parsed.error)}`);
  return parsed.data as ContainerSpec;
}
