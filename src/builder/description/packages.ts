import type { Arch } from '../../common/arch.js';
import { archMatches } from './arch.js';
import type { Archive, FileEntry, PackageLists } from './model.js';
import type { PackagesDoc } from './schema.js';

/** Command-line additions to the package lists. */
export interface PackageOverrides {
  /** --add-package names: installed with the image packages. */
  add: readonly string[];
  /** --delete-package names: removed forcibly at the end. */
  delete: readonly string[];
}

/**
 * The package lists per stage from the selected `<packages>` sections (profiles already
 * applied by the caller), as KIWI's XMLState builds them: names sorted and unique,
 * `<package arch>` matched against the target.
 */
export function resolvePackages(
  sections: readonly PackagesDoc[],
  buildType: string,
  arch: Arch,
  overrides: PackageOverrides,
): PackageLists {
  const of = (...types: string[]) => sections.filter((section) => types.includes(section.type));
  const names = (list: readonly PackagesDoc[], extra: readonly string[] = []) =>
    sortedUnique([
      ...list.flatMap((section) => section.package.filter((pkg) => archMatches(pkg.arch, arch)).map((pkg) => pkg.name)),
      ...extra,
    ]);
  const image = names(of('image'), overrides.add);
  const type = names(of(buildType));
  return {
    // KIWI appends its package manager here; apt is Priority: required in Debian, so
    // every bootstrap has it and the list stays what the description says.
    bootstrap: names(of('bootstrap')),
    image,
    type,
    uninstall: names(of('uninstall')),
    delete: names(of('delete'), overrides.delete),
    bootstrapArchives: archives(of('bootstrap')),
    imageArchives: archives(of('image', buildType)),
    bootstrapFiles: files(of('bootstrap'), arch),
    imageFiles: files(of('image', buildType), arch),
    bootstrapRecommends: recommends(of('bootstrap')),
    imageRecommends: recommends(of('image', buildType)),
  };
}

function sortedUnique(names: string[]): string[] {
  return [...new Set(names)].sort();
}

/** Sorted by name, as KIWI unpacks them. */
function archives(sections: readonly PackagesDoc[]): Archive[] {
  return sections
    .flatMap((section) => section.archive.map((archive) => ({ name: archive.name, targetDir: archive.target_dir ?? '/' })))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** One entry per file name; a later section's entry replaces an earlier one (KIWI keys them by name). */
function files(sections: readonly PackagesDoc[], arch: Arch): FileEntry[] {
  const byName = new Map<string, FileEntry>();
  for (const section of sections) {
    for (const file of section.file) {
      if (!archMatches(file.arch, arch)) continue;
      byName.set(file.name, { name: file.name, target: file.target, owner: file.owner, permissions: file.permissions });
    }
  }
  return [...byName.values()];
}

/** The first section with a patternType decides (KIWI's get_collection_type); onlyRequired by default. */
function recommends(sections: readonly PackagesDoc[]): boolean {
  return sections.find((section) => section.patternType !== undefined)?.patternType === 'plusRecommended';
}
