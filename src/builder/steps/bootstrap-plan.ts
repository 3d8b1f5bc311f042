import { createHash } from 'node:crypto';
import type { ImageModel } from '../description/model.js';
import { sourceLine } from './apt-sources.js';

/**
 * What a bootstrap layer is made from. Two builds with equal inputs share one layer; any
 * change (a repository, a bootstrap package, the arch, excludedocs) makes a new one.
 * FORMAT changes when kiwi changes how it bootstraps, so old layers are not reused.
 */
const FORMAT = 1;

export interface BootstrapInputs {
  format: number;
  /** Debian architecture, e.g. amd64. */
  arch: string;
  /** mmdebstrap variant. */
  variant: 'minbase';
  /** apt source lines, in order (the host's view: local repositories by host path). */
  sources: string[];
  /** Bootstrap packages, sorted. */
  packages: string[];
  /** Install recommends at bootstrap. */
  recommends: boolean;
  /** Leave documentation out (rpm-excludedocs). */
  excludeDocs: boolean;
}

export function bootstrapInputs(model: ImageModel): BootstrapInputs {
  // KIWI bootstraps from the repository marked use_for_bootstrap; mmdebstrap takes several,
  // so kiwi uses the marked ones, or all when none is marked.
  const marked = model.repositories.filter((repo) => repo.useForBootstrap);
  return {
    format: FORMAT,
    arch: model.debianArch,
    variant: 'minbase',
    sources: (marked.length > 0 ? marked : model.repositories).map((repo) => sourceLine(repo)),
    packages: [...model.packages.bootstrap].sort(),
    recommends: model.packages.bootstrapRecommends,
    excludeDocs: model.preferences.excludeDocs,
  };
}

/** The cache key: sha256 of the canonical JSON of the inputs, 32 hex digits. */
export function bootstrapKey(inputs: BootstrapInputs): string {
  const canonical = JSON.stringify(inputs, Object.keys(inputs).sort());
  return createHash('sha256').update(canonical).digest('hex').slice(0, 32);
}

/** dpkg path filters for excludedocs (copyright files stay: Debian's licence obligations). */
export const EXCLUDE_DOCS_DPKG_OPTIONS = [
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/info/*',
];

/**
 * mmdebstrap's argv, as root in a private mount namespace (unshare --mount): the proc, sys
 * and dev mounts mmdebstrap makes in the chroot vanish with it however it ends.
 * The suite argument is the first source's distribution (mmdebstrap needs one; the
 * sources lines themselves say everything). The layer keeps its apt lists, so the build's
 * own apt-get update over the same sources only revalidates them (the build's clean step
 * removes them from the image); no translations are fetched.
 */
export function mmdebstrapArgv(inputs: BootstrapInputs, target: string, options: { foreign: boolean }): string[] {
  const suite = /^deb (?:\[[^\]]*\] )?\S+ (\S+)/.exec(inputs.sources[0] ?? '')?.[1] ?? 'stable';
  return [
    'unshare',
    '--mount',
    '--propagation',
    'private',
    '--',
    'mmdebstrap',
    '--mode=root',
    `--variant=${inputs.variant}`,
    `--architectures=${inputs.arch}`,
    // apt's and dpkg's own lines into the build log: a bootstrap under emulation runs for
    // minutes (hours through qemu-user in a box), and a failing one shows dpkg's error.
    '--verbose',
    '--skip=cleanup/apt/lists',
    // A foreign arch runs through the binfmt entry the build checked (with F, so no emulator
    // is copied into the root); mmdebstrap's own check would need arch-test.
    ...(options.foreign ? ['--skip=check/qemu'] : []),
    '--aptopt=Acquire::Languages "none"',
    ...(inputs.packages.length > 0 ? [`--include=${inputs.packages.join(',')}`] : []),
    ...(inputs.recommends ? ['--aptopt=APT::Install-Recommends "true"'] : []),
    ...(inputs.excludeDocs ? EXCLUDE_DOCS_DPKG_OPTIONS.map((option) => `--dpkgopt=${option}`) : []),
    suite === './' ? 'stable' : suite,
    target,
    ...inputs.sources,
  ];
}
