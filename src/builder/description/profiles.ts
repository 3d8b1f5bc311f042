import type { Arch } from '../../common/arch.js';
import { archMatches } from './arch.js';
import type { Problem } from './problems.js';
import type { ImageDoc, ProfileDoc } from './schema.js';

/**
 * Which profiles a build uses, as KIWI's XMLState does: the requested ones (--profile),
 * else those marked import="true"; then every profile they require, depth first. Only
 * profiles whose arch matches the target exist for this build.
 */
export function selectProfiles(
  doc: ImageDoc,
  requested: readonly string[],
  arch: Arch,
): { profiles: string[]; problems: Problem[] } {
  const available = new Map<string, ProfileDoc>();
  for (const section of doc.profiles) {
    for (const profile of section.profile) if (archMatches(profile.arch, arch)) available.set(profile.name, profile);
  }
  const known = [...available.keys()];
  const knownText = known.length > 0 ? `known: ${known.join(', ')}` : 'the description defines none';
  const problems: Problem[] = [];
  const profiles: string[] = [];
  const add = (name: string): void => {
    if (profiles.includes(name)) return;
    const profile = available.get(name);
    if (!profile) return;
    profiles.push(name);
    for (const requires of profile.requires) {
      if (!archMatches(requires.arch, arch)) continue;
      if (!available.has(requires.profile)) {
        problems.push({ where: requires.xmlPath, message: `requires unknown profile "${requires.profile}" (${knownText})` });
      } else add(requires.profile);
    }
  };
  for (const name of requested) {
    if (!available.has(name)) problems.push({ where: '--profile', message: `unknown profile "${name}" for ${arch} (${knownText})` });
  }
  const roots = requested.length > 0 ? requested : known.filter((name) => available.get(name)?.import === true);
  roots.forEach(add);
  return { profiles, problems };
}

/**
 * Whether an element applies: without profiles= always, with it when one of its
 * profiles is selected (KIWI's _profiled).
 */
export function isSelected(profilesAttr: readonly string[] | undefined, selected: readonly string[]): boolean {
  return profilesAttr === undefined || profilesAttr.some((name) => selected.includes(name));
}

/**
 * profiles="x" naming a profile the description does not define would silently never
 * apply (KIWI does not check); kiwi reports it, most likely a typo.
 */
export function checkProfileReferences(doc: ImageDoc): Problem[] {
  const defined = new Set(doc.profiles.flatMap((section) => section.profile.map((profile) => profile.name)));
  const list = defined.size > 0 ? `defined: ${[...defined].join(', ')}` : 'the description defines no profiles';
  const sections: { xmlPath: string; profiles?: string[] | undefined }[] = [
    ...doc.preferences,
    ...doc.users,
    ...doc.repository,
    ...doc.packages,
  ];
  return sections.flatMap((section) =>
    (section.profiles ?? [])
      .filter((name) => !defined.has(name))
      .map((name) => ({ where: section.xmlPath, message: `profiles= names undefined profile "${name}" (${list})` })),
  );
}
