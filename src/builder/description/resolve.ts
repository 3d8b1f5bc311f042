import { dirname } from 'node:path';
import type { Arch } from '../../common/arch.js';
import { archMatches, debianArch } from './arch.js';
import type { ImageModel, User } from './model.js';
import { resolvePackages } from './packages.js';
import { mergePreferences, selectType, toImageType } from './preferences.js';
import type { Problem } from './problems.js';
import { checkProfileReferences, isSelected, selectProfiles } from './profiles.js';
import { resolveRepositories, type RepoSpec } from './repositories.js';
import type { ImageDoc, UsersDoc } from './schema.js';

/** What a build asks of a description (the BUILD ARGS that shape the model). */
export interface ResolveOptions {
  /** Absolute description directory. */
  descriptionDir: string;
  /** Absolute path of the description file. */
  descriptionFile: string;
  /** Target architecture. */
  arch: Arch;
  /** --profile names, in order; empty selects the import="true" profiles. */
  profiles: readonly string[];
  /** --type, if given. */
  type: string | undefined;
  /** --set-repo, if given. */
  setRepo: RepoSpec | undefined;
  /** --add-repo, in order. */
  addRepos: readonly RepoSpec[];
  /** --add-package names. */
  addPackages: readonly string[];
  /** --delete-package names. */
  deletePackages: readonly string[];
}

/**
 * Applies profiles, the build type, defaults and command-line overrides to a checked
 * description. Collects every problem; the model is undefined only when no build type
 * could be chosen or a requested profile does not exist.
 */
export function resolveImage(doc: ImageDoc, options: ResolveOptions): { model: ImageModel | undefined; problems: Problem[] } {
  const { arch } = options;
  const selection = selectProfiles(doc, options.profiles, arch);
  const problems: Problem[] = [...selection.problems, ...checkProfileReferences(doc)];
  const { profiles } = selection;
  const applies = (section: { profiles?: string[] | undefined; arch?: string[] | undefined }) =>
    isSelected(section.profiles, profiles) && archMatches(section.arch, arch);

  const preferenceSections = doc.preferences.filter(applies);
  const chosen = selectType(preferenceSections, options.type, profiles);
  problems.push(...chosen.problems);
  // this:// is relative to the directory of the description file (KIWI's description_dir),
  // which differs from --description only for DIR/image/config.xml.
  const context = { descriptionDir: dirname(options.descriptionFile), arch, debianArch: debianArch(arch) };
  const repos = resolveRepositories(
    doc.repository.filter((repo) => isSelected(repo.profiles, profiles)),
    options.setRepo,
    options.addRepos,
    context,
  );
  problems.push(...repos.problems);
  if (!chosen.type || selection.problems.length > 0) return { model: undefined, problems };

  const { versionSet, ...preferences } = mergePreferences(preferenceSections);
  // KIWI's runtime check: a result name needs a version.
  if (!versionSet) problems.push({ where: '/image', message: 'no <version> in the selected <preferences> sections' });
  const type = toImageType(chosen.type, doc.name, arch);
  return {
    model: {
      descriptionDir: options.descriptionDir,
      descriptionFile: options.descriptionFile,
      name: doc.name,
      displayName: doc.displayname ?? doc.name,
      id: doc.id,
      schemaVersion: doc.schemaversion,
      description: {
        author: doc.description.author.text,
        contacts: doc.description.contact.map((contact) => contact.text),
        specification: doc.description.specification.text,
        license: doc.description.license?.text,
      },
      profiles,
      arch,
      debianArch: context.debianArch,
      preferences,
      type,
      repositories: repos.repositories,
      packages: resolvePackages(
        doc.packages.filter((section) => isSelected(section.profiles, profiles)),
        type.image,
        arch,
        { add: options.addPackages, delete: options.deletePackages },
      ),
      users: doc.users.filter(applies).flatMap(toUsers),
    },
    problems,
  };
}

function toUsers(section: UsersDoc): User[] {
  return section.user.map((user) => ({
    xmlPath: user.xmlPath,
    name: user.name,
    groups: user.groups?.split(',') ?? [],
    password: user.password,
    passwordFormat: user.pwdformat ?? 'encrypted',
    home: user.home,
    shell: user.shell,
    id: user.id,
    realName: user.realname,
  }));
}
