import { isAbsolute, resolve } from 'node:path';
import { ARCHES, type Arch } from '../common/arch.js';
import { UsageError } from '../common/errors.js';
import { formatProblem, type Problem } from './description/problems.js';
import type { LoadOptions } from './description/load.js';
import type { RepoSpec } from './description/repositories.js';
import { BUILD_TYPES } from './description/schema-type.js';

/** `kiwi build`'s arguments, checked; paths absolute. */
export interface BuildArgs {
  /** --description: absolute description directory. */
  descriptionDir: string;
  /** --target-dir: absolute directory for the results. */
  targetDir: string;
  /** --type, if given. */
  type: string | undefined;
  /** --profile names in order (repeatable). */
  profiles: string[];
  /** --kiwi-file: the description file name inside descriptionDir, if given. */
  kiwiFile: string | undefined;
  /** --set-repo, if given. */
  setRepo: RepoSpec | undefined;
  /** --add-repo, in order. */
  addRepos: RepoSpec[];
  /** --add-package names. */
  addPackages: string[];
  /** --delete-package names. */
  deletePackages: string[];
  /** --signing-key files, absolute. */
  signingKeys: string[];
  /** --target-arch, KIWI spelling; the host's by default. */
  targetArch: Arch;
}

/** Bad BUILD ARGS: every problem, one line each; exit 2. */
export class BuildArgsError extends UsageError {
  readonly problems: readonly Problem[];
  constructor(problems: readonly Problem[]) {
    super(`invalid build arguments:\n${problems.map(formatProblem).join('\n')}`, {
      hint: 'kiwi build --description DIR --target-dir DIR [--type T] [--profile P]... (see kiwi build --help)',
    });
    this.problems = problems;
  }
}

const SINGLE = ['--description', '--target-dir', '--type', '--kiwi-file', '--set-repo', '--target-arch'] as const;
const REPEATED = ['--profile', '--add-repo', '--add-package', '--delete-package', '--signing-key'] as const;
type Option = (typeof SINGLE)[number] | (typeof REPEATED)[number];
const OPTIONS: readonly string[] = [...SINGLE, ...REPEATED];

/**
 * Parses BUILD ARGS without commander: it runs on the host before a box boots and again
 * inside the box. Accepts `--opt value` and `--opt=value`. Relative paths are taken
 * against `cwd`. Throws one BuildArgsError listing every problem.
 */
export function parseBuildArgs(argv: readonly string[], env: { cwd: string; hostArch: Arch }): BuildArgs {
  const problems: Problem[] = [];
  const values = new Map<Option, string[]>();
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] ?? '';
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq !== -1 ? arg.slice(0, eq) : arg;
    if (!OPTIONS.includes(name)) {
      const message = arg.startsWith('-') ? `unknown option (supported: ${OPTIONS.join(', ')})` : 'unexpected argument: build arguments are options only';
      problems.push({ where: arg, message });
      continue;
    }
    let value: string | undefined = eq !== -1 && name !== arg ? arg.slice(eq + 1) : undefined;
    if (value === undefined) {
      const next = argv[index + 1];
      if (next === undefined || next.startsWith('--')) {
        problems.push({ where: name, message: 'needs a value' });
        continue;
      }
      value = next;
      index++;
    }
    if (value === '') problems.push({ where: name, message: 'needs a non-empty value' });
    values.set(name as Option, [...(values.get(name as Option) ?? []), value]);
  }
  const one = (option: (typeof SINGLE)[number]): string | undefined => {
    const given = values.get(option) ?? [];
    if (given.length > 1) problems.push({ where: option, message: `given ${given.length} times, allowed once` });
    return given[0];
  };
  const many = (option: (typeof REPEATED)[number]) => values.get(option) ?? [];
  const absolute = (path: string) => (isAbsolute(path) ? resolve(path) : resolve(env.cwd, path));

  const description = one('--description');
  const targetDir = one('--target-dir');
  if (description === undefined) problems.push({ where: '--description', message: 'is required (the directory holding config.kiwi)' });
  if (targetDir === undefined) problems.push({ where: '--target-dir', message: 'is required (where the image is written)' });
  const type = one('--type');
  if (type !== undefined && !(BUILD_TYPES as readonly string[]).includes(type)) {
    problems.push({ where: '--type', message: `"${type}" is not a type kiwi builds (supported: ${BUILD_TYPES.join(', ')})` });
  }
  const kiwiFile = one('--kiwi-file');
  if (kiwiFile !== undefined && (isAbsolute(kiwiFile) || kiwiFile.split('/').includes('..'))) {
    problems.push({ where: '--kiwi-file', message: `"${kiwiFile}" must be a file name inside the description directory` });
  }
  const arch = one('--target-arch');
  const targetArch = arch === undefined ? env.hostArch : toArch(arch, problems);
  const setRepoText = one('--set-repo');
  const setRepo = setRepoText === undefined ? undefined : parseRepoSpec(setRepoText, '--set-repo', problems);
  const addRepos = many('--add-repo').flatMap((text) => parseRepoSpec(text, '--add-repo', problems) ?? []);

  if (problems.length > 0) throw new BuildArgsError(problems);
  return {
    descriptionDir: absolute(description ?? ''),
    targetDir: absolute(targetDir ?? ''),
    type,
    profiles: many('--profile'),
    kiwiFile,
    setRepo,
    addRepos,
    addPackages: many('--add-package'),
    deletePackages: many('--delete-package'),
    signingKeys: many('--signing-key').map(absolute),
    targetArch,
  };
}

function toArch(value: string, problems: Problem[]): Arch {
  const known: Record<string, Arch> = { x86_64: 'x86_64', amd64: 'x86_64', aarch64: 'aarch64', arm64: 'aarch64' };
  const arch = known[value];
  if (arch) return arch;
  problems.push({ where: '--target-arch', message: `unknown architecture "${value}" (supported: ${ARCHES.join(', ')})` });
  return ARCHES[0];
}

/**
 * KIWI's repository option: SOURCE,TYPE,ALIAS,PRIORITY,IMAGEINCLUDE,PACKAGE_GPGCHECK,
 * {KEY:KEY},COMPONENTS,DISTRIBUTION,REPO_GPGCHECK,SOURCETYPE — empty fields unset.
 */
export function parseRepoSpec(text: string, option: string, problems: Problem[]): RepoSpec | undefined {
  const fields = splitFields(text, 11);
  const [source = '', type, alias, priority, imageInclude, packageGpgCheck, keys, components, distribution, repoGpgCheck, sourceType] =
    fields.map((field) => (field === '' ? undefined : field));
  const before = problems.length;
  const report = (message: string) => problems.push({ where: `${option} ${text}`, message });
  if (source === '') report('needs a source URI first (URI,TYPE,ALIAS,PRIORITY,...)');
  if (type !== undefined && type !== 'apt-deb') report(`type "${type}" is not supported, kiwi builds with apt: use apt-deb`);
  if (alias !== undefined && !/^[a-zA-Z0-9_.-]+$/.test(alias)) report(`alias "${alias}" may only have letters, digits, _ . -`);
  if (priority !== undefined && !/^-?\d+$/.test(priority)) report(`priority "${priority}" is not a whole number`);
  if (packageGpgCheck !== undefined) report('package_gpgcheck is not supported with apt (apt checks repository signatures)');
  if (sourceType !== undefined && sourceType !== 'baseurl') report(`sourcetype "${sourceType}" is not supported with apt`);
  if (keys !== undefined && !/^\{[^{}]*\}$/.test(keys)) report(`signing keys "${keys}" must be written {FILE:FILE}`);
  const bool = (value: string | undefined, what: string): boolean | undefined => {
    if (value === undefined) return undefined;
    if (value === 'true' || value === 'false') return value === 'true';
    report(`${what} "${value}" must be true or false`);
    return undefined;
  };
  const spec: RepoSpec = {
    source,
    type,
    alias,
    priority: priority === undefined ? undefined : Number(priority),
    imageInclude: bool(imageInclude, 'imageinclude'),
    signingKeys: keys === undefined ? [] : keys.slice(1, -1).split(':').filter((key) => key !== ''),
    components,
    distribution,
    repositoryGpgCheck: bool(repoGpgCheck, 'repo_gpgcheck'),
  };
  return problems.length === before ? spec : undefined;
}

/** Splits on commas into at most `count` fields, the last keeping any further commas (Python's split(',', n-1)). */
function splitFields(text: string, count: number): string[] {
  const parts = text.split(',');
  return parts.length <= count ? parts : [...parts.slice(0, count - 1), parts.slice(count - 1).join(',')];
}

/** What loadImageModel needs from the build arguments. */
export function toLoadOptions(args: BuildArgs): LoadOptions {
  return {
    descriptionDir: args.descriptionDir,
    kiwiFile: args.kiwiFile,
    arch: args.targetArch,
    profiles: args.profiles,
    type: args.type,
    setRepo: args.setRepo,
    addRepos: args.addRepos,
    addPackages: args.addPackages,
    deletePackages: args.deletePackages,
  };
}

/** Back to argv (absolute paths), e.g. to pass the checked arguments into a box. */
export function buildArgsToArgv(args: BuildArgs): string[] {
  const argv = ['--description', args.descriptionDir, '--target-dir', args.targetDir, '--target-arch', args.targetArch];
  if (args.type !== undefined) argv.push('--type', args.type);
  if (args.kiwiFile !== undefined) argv.push('--kiwi-file', args.kiwiFile);
  for (const profile of args.profiles) argv.push('--profile', profile);
  if (args.setRepo) argv.push('--set-repo', formatRepoSpec(args.setRepo));
  for (const repo of args.addRepos) argv.push('--add-repo', formatRepoSpec(repo));
  for (const name of args.addPackages) argv.push('--add-package', name);
  for (const name of args.deletePackages) argv.push('--delete-package', name);
  for (const key of args.signingKeys) argv.push('--signing-key', key);
  return argv;
}

function formatRepoSpec(spec: RepoSpec): string {
  const text = (value: string | number | boolean | undefined) => (value === undefined ? '' : String(value));
  const keys = spec.signingKeys.length > 0 ? `{${spec.signingKeys.join(':')}}` : '';
  return [spec.source, spec.type, spec.alias, spec.priority, spec.imageInclude, undefined, keys, spec.components, spec.distribution, spec.repositoryGpgCheck]
    .map(text)
    .join(',')
    .replace(/,+$/, '');
}
