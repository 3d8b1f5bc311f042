import { UsageError } from './errors.js';

/** The CPU architectures kiwi builds for, in KIWI's spelling. */
export const ARCHES = ['x86_64', 'aarch64'] as const;
export type Arch = (typeof ARCHES)[number];

const ALIASES: Record<string, Arch> = {
  x86_64: 'x86_64',
  amd64: 'x86_64',
  x64: 'x86_64',
  aarch64: 'aarch64',
  arm64: 'aarch64',
};

/** The architecture of the machine kiwi runs on. */
export function hostArch(): Arch {
  return parseArch(process.arch);
}

/** Accepts KIWI, Debian and Node spellings (x86_64/amd64/x64, aarch64/arm64). */
export function parseArch(value: string): Arch {
  const arch = ALIASES[value];
  if (!arch) {
    throw new UsageError(`unknown architecture "${value}"`, {
      hint: `use one of: ${ARCHES.join(', ')}`,
    });
  }
  return arch;
}
