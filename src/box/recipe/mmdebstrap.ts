import fs from 'node:fs/promises';
import type { ArchRecipe } from './recipe.js';
import { runTool } from './run-tool.js';

export interface MmdebstrapOptions {
  /**
   * Skip mmdebstrap's own check that a foreign architecture's programs run (it needs
   * arch-test); set when arch-test is missing and kiwi checked binfmt_misc itself.
   */
  skipQemuCheck?: boolean;
}

/**
 * mmdebstrap's argv for the box's root tarball. Pure. --mode=auto is root when kiwi runs
 * as root and an unprivileged user namespace otherwise; the output is a tarball so the
 * bootstrap can be cached whole and unpacked again for each rebuild of later stages.
 */
export function mmdebstrapArgs(recipe: ArchRecipe, output: string, options: MmdebstrapOptions = {}): string[] {
  return [
    '--mode=auto',
    ...(options.skipQemuCheck ? ['--skip=check/qemu'] : []),
    `--variant=${recipe.variant}`,
    `--arch=${recipe.debianArch}`,
    '--format=tar',
    // A build box needs exactly the listed tools; Recommends would add hundreds of MB.
    '--aptopt=APT::Install-Recommends "false"',
    ...recipe.dpkgExclude.map((pattern) => `--dpkgopt=path-exclude=${pattern}`),
    ...recipe.dpkgInclude.map((pattern) => `--dpkgopt=path-include=${pattern}`),
    `--include=${recipe.packages.join(',')}`,
    recipe.suite,
    output,
    ...recipe.sources,
  ];
}

/** Runs mmdebstrap into `output` (written under a temporary name, renamed when complete). */
export async function bootstrapRootTarball(
  recipe: ArchRecipe,
  output: string,
  options: MmdebstrapOptions & { signal?: AbortSignal; onLine?: (line: string) => void } = {},
): Promise<void> {
  const partial = `${output}.${process.pid}.part`;
  try {
    // INITRD=No: the kernel package's hook would make an initramfs that the box never uses
    // (kiwi writes its own; /boot is dropped from the tree). For a foreign arch that runs
    // under qemu-user and took minutes of the bootstrap.
    await runTool('mmdebstrap', mmdebstrapArgs(recipe, partial, options), { ...options, env: { INITRD: 'No' }, processGroup: true });
    await fs.rename(partial, output);
  } finally {
    await fs.rm(partial, { force: true });
  }
}
