import { createHash } from 'node:crypto';
import { isAbsolute, join, normalize } from 'node:path';
import { archMatches, toDebianArch } from './arch.js';
import type { Repository } from './model.js';
import type { Problem } from './problems.js';
import type { RepositoryDoc } from './schema.js';
import type { Arch } from '../../common/arch.js';

/**
 * A repository given on the command line, KIWI's
 * `SOURCE,TYPE,ALIAS,PRIORITY,IMAGEINCLUDE,PACKAGE_GPGCHECK,{SIGNING_KEYS},COMPONENTS,DISTRIBUTION,REPO_GPGCHECK`;
 * unset fields are undefined (for --set-repo: keep the description's value).
 */
export interface RepoSpec {
  /** Source URI, e.g. http://deb.debian.org/debian or this://repo. */
  source: string;
  /** Repository type (apt-deb is the only one). */
  type: string | undefined;
  /** Alias. */
  alias: string | undefined;
  /** apt pin priority. */
  priority: number | undefined;
  /** Keep configured in the image. */
  imageInclude: boolean | undefined;
  /** Signing key files. */
  signingKeys: string[];
  /** Components, space separated as in KIWI ("main contrib"). */
  components: string | undefined;
  /** Suite, e.g. bookworm. */
  distribution: string | undefined;
  /** Check the repository signature. */
  repositoryGpgCheck: boolean | undefined;
}

/** Where a repository's parts come from before URIs are resolved: a spec, located, with its arches. */
type RepoInput = RepoSpec & {
  xmlPath: string;
  architectures: string[] | undefined;
  useForBootstrap?: boolean | undefined;
};

export interface RepositoryContext {
  /** Absolute description directory (this:// is relative to it). */
  descriptionDir: string;
  /** Target architecture (filters arch=, fills %arch). */
  arch: Arch;
  /** Debian name of the target architecture. */
  debianArch: string;
}

/**
 * The repositories of a build: the selected XML ones (profiles and arch already
 * applied by the caller), the first one overridden field by field by --set-repo (added
 * when there is none, rather than ignored as KIWI does), then the --add-repo ones.
 */
export function resolveRepositories(
  docs: readonly RepositoryDoc[],
  setRepo: RepoSpec | undefined,
  addRepos: readonly RepoSpec[],
  context: RepositoryContext,
): { repositories: Repository[]; problems: Problem[] } {
  const inputs: RepoInput[] = docs.filter((doc) => archMatches(doc.arch, context.arch)).map(fromDoc);
  if (setRepo) {
    const first = inputs[0];
    if (first) inputs[0] = overlay(first, setRepo);
    else inputs.push(fromSpec(setRepo, '--set-repo'));
  }
  inputs.push(...addRepos.map((spec) => fromSpec(spec, '--add-repo')));
  const problems: Problem[] = [];
  const repositories = inputs.flatMap((input) => {
    const resolved = toRepository(input, context);
    if (typeof resolved === 'string') {
      problems.push({ where: input.xmlPath, message: resolved });
      return [];
    }
    return [resolved];
  });
  return { repositories, problems };
}

/** Turns a source URI into what apt reads; a string is the reason it cannot. */
export function translateUri(source: string, context: RepositoryContext): { uri: string; localPath: string | undefined } | string {
  const expanded = source.replaceAll('%arch', context.debianArch);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(expanded)?.[1]?.toLowerCase();
  const rest = expanded.slice((scheme?.length ?? 0) + 3);
  if (scheme === 'http' || scheme === 'https') return { uri: expanded, localPath: undefined };
  if (scheme === 'this') return local(join(context.descriptionDir, rest));
  if (scheme === 'dir' || scheme === 'file') {
    if (!isAbsolute(rest)) return `${scheme}:// needs an absolute path (use this://${rest} for a path inside the description)`;
    return local(rest);
  }
  return `repository source "${source}" is not supported: use http://, https://, dir://, file:// or this://`;
}

function local(path: string): { uri: string; localPath: string } {
  const localPath = normalize(path).replace(/(.)\/$/, '$1');
  return { uri: `file://${localPath}`, localPath };
}

function toRepository(input: RepoInput, context: RepositoryContext): Repository | string {
  if (input.type !== undefined && input.type !== 'apt-deb') {
    return `repository type "${input.type}" is not supported, kiwi builds with apt: use apt-deb`;
  }
  const translated = translateUri(input.source, context);
  if (typeof translated === 'string') return translated;
  const components = (input.components ?? 'main').split(/\s+/).filter((name) => name !== '');
  return {
    xmlPath: input.xmlPath,
    alias: input.alias ?? defaultAlias(translated.uri, input.distribution, components),
    type: 'apt-deb',
    source: input.source,
    uri: translated.uri,
    localPath: translated.localPath,
    distribution: input.distribution,
    components,
    architectures: (input.architectures ?? []).map(toDebianArch),
    priority: input.priority,
    imageInclude: input.imageInclude ?? false,
    repositoryGpgCheck: input.repositoryGpgCheck,
    signingKeys: input.signingKeys,
    useForBootstrap: input.useForBootstrap ?? false,
  };
}

/**
 * KIWI makes a random alias; a build must be reproducible, so kiwi derives it from
 * what makes the repository (as kiwi.rnc describes: a digest of the source).
 */
function defaultAlias(uri: string, distribution: string | undefined, components: string[]): string {
  const digest = createHash('sha256').update(`${uri} ${distribution ?? ''} ${components.join(' ')}`).digest('hex');
  return `repo-${digest.slice(0, 12)}`;
}

function fromDoc(doc: RepositoryDoc): RepoInput {
  return {
    xmlPath: doc.xmlPath,
    source: doc.source.path,
    type: doc.type,
    alias: doc.alias,
    priority: doc.priority,
    imageInclude: doc.imageinclude,
    signingKeys: doc.source.signing.map((signing) => signing.key),
    components: doc.components,
    distribution: doc.distribution,
    architectures: doc.architectures,
    repositoryGpgCheck: doc.repository_gpgcheck,
    useForBootstrap: doc.use_for_bootstrap,
  };
}

function fromSpec(spec: RepoSpec, option: string): RepoInput {
  return { ...spec, xmlPath: option, architectures: undefined };
}

/** --set-repo replaces only the fields it sets (KIWI's XMLState.set_repository). */
function overlay(input: RepoInput, spec: RepoSpec): RepoInput {
  return {
    ...input,
    xmlPath: `${input.xmlPath} (with --set-repo)`,
    source: spec.source || input.source,
    type: spec.type ?? input.type,
    alias: spec.alias ?? input.alias,
    priority: spec.priority ?? input.priority,
    imageInclude: spec.imageInclude ?? input.imageInclude,
    signingKeys: spec.signingKeys.length > 0 ? spec.signingKeys : input.signingKeys,
    components: spec.components ?? input.components,
    distribution: spec.distribution ?? input.distribution,
    repositoryGpgCheck: spec.repositoryGpgCheck ?? input.repositoryGpgCheck,
  };
}
