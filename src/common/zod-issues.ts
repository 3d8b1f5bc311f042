import type { z } from 'zod';

/** "arch.x86_64.manifest: Invalid URL; files[0].sha256: must be 64 hex digits" */
export function formatZodIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const where = issue.path.reduce<string>((acc, key) => {
        if (typeof key === 'number') return `${acc}[${key}]`;
        return acc ? `${acc}.${String(key)}` : String(key);
      }, '');
      return where ? `${where}: ${issue.message}` : issue.message;
    })
    .join('; ');
}
