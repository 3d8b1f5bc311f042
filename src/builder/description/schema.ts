import { z } from 'zod';
import type { RawNode } from './parse.js';
import type { Problem } from './problems.js';
import { typeSchema } from './schema-type.js';
import {
  element,
  issuesToProblems,
  many,
  one,
  oneOrMore,
  optionalOne,
  requiredText,
  toDocInput,
  xmlBool,
} from './schema-kit.js';

/**
 * The supported subset of KIWI's description schema (kiwi/schema/kiwi.rnc), as zod
 * schemas over the element tree. What is not listed here is an error naming it.
 */

/** Schema versions kiwi reads: 7.4 to 8.x (KIWI upgrades 7.4+ with its own XSLT steps). */
const SCHEMA_VERSION = /^(7\.([4-9]|[1-9]\d+)|8\.\d+)$/;

/** KIWI's arch-name list (uname -m spellings plus a few aliases). */
const KIWI_ARCHES = [
  'x86_64', 'i586', 'i686', 'ix86', 'aarch64', 'arm64', 'amd64', 'armv5el', 'armv5tel', 'armv6hl',
  'armv6l', 'armv7hl', 'armv7l', 'ppc', 'ppc64', 'ppc64le', 's390', 's390x', 'riscv64',
];

/** A comma-separated list, e.g. `profiles="a,b"`. */
const commaList = z
  .string()
  .transform((value) => value.split(',').map((item) => item.trim()).filter((item) => item !== ''))
  .refine((items) => items.length > 0, { error: 'expected a comma-separated list of names' });

const archList = commaList.refine((items) => items.every((item) => KIWI_ARCHES.includes(item)), {
  error: `expected architecture names from: ${KIWI_ARCHES.join(', ')}`,
});

const safeName = z.string().regex(/^[a-zA-Z0-9_.-]+$/, 'expected letters, digits, _ . - only');

/** An element with text only: `<author>Me</author>`. */
const textElement = <T extends z.ZodType = typeof requiredText>(text?: T) => element({}, {}, (text ?? requiredText) as T);

/** A schema that fails for any element it meets, with a message saying why. */
const unsupported = (message: string) => z.custom<never>(() => false, { error: message });

const description = element(
  { type: z.enum(['system'], { error: 'not supported, only type="system" descriptions are built' }) },
  {
    author: one(textElement()),
    contact: oneOrMore(textElement()),
    specification: one(textElement()),
    license: optionalOne(textElement()),
  },
);

const preferences = element(
  { profiles: commaList.optional(), arch: archList.optional() },
  {
    version: optionalOne(textElement(z.string().regex(/^\d+\.\d+\.\d+$/, 'expected a version MAJOR.MINOR.RELEASE, e.g. 1.0.0'))),
    packagemanager: optionalOne(
      textElement(z.string().refine((name) => name === 'apt', { error: 'not supported, kiwi builds with apt only' })),
    ),
    locale: optionalOne(
      textElement(z.string().regex(/^(C|POSIX|[a-z]{2,3}_[A-Z]{2})(,[a-z]{2,3}_[A-Z]{2})*$/, 'expected locale names such as en_US or en_US,de_DE')),
    ),
    keytable: optionalOne(textElement()),
    timezone: optionalOne(textElement()),
    'rpm-excludedocs': optionalOne(textElement(xmlBool)),
    'rpm-check-signatures': optionalOne(textElement(xmlBool)),
    'release-version': optionalOne(textElement()),
    'bootloader-theme': optionalOne(textElement()),
    'bootsplash-theme': optionalOne(textElement()),
    type: many(typeSchema),
  },
);

const profiles = element(
  {},
  {
    profile: oneOrMore(
      element(
        { name: safeName, description: z.string(), import: xmlBool.optional(), arch: archList.optional() },
        { requires: many(element({ profile: safeName, arch: archList.optional() }, {})) },
      ),
    ),
  },
);

const users = element(
  { profiles: commaList.optional(), arch: archList.optional() },
  {
    user: oneOrMore(
      element(
        {
          name: z.string().regex(/^[a-z_][a-z0-9_-]*\$?$/, 'expected a user name (lower case letters, digits, _ -)'),
          groups: z.string().regex(/^[a-zA-Z0-9_.:-]+(,[a-zA-Z0-9_.:-]+)*$/, 'expected a comma-separated list of groups').optional(),
          password: z.string(),
          pwdformat: z.enum(['encrypted', 'plain']).optional(),
          home: z.string().optional(),
          shell: z.string().optional(),
          id: z.string().regex(/^\d+$/, 'expected a numeric user id').transform(Number).optional(),
          realname: z.string().optional(),
        },
        {},
      ),
    ),
  },
);

const repository = element(
  {
    type: z.enum(['apt-deb'], { error: 'not supported, kiwi builds with apt: use type="apt-deb"' }).optional(),
    profiles: commaList.optional(),
    arch: archList.optional(),
    alias: safeName.optional(),
    components: z.string().optional(),
    distribution: z.string().min(1).optional(),
    architectures: archList.optional(),
    imageinclude: xmlBool.optional(),
    repository_gpgcheck: xmlBool.optional(),
    use_for_bootstrap: xmlBool.optional(),
    priority: z.string().regex(/^-?\d+$/, 'expected a whole number').transform(Number).optional(),
  },
  { source: one(element({ path: z.string().min(1) }, { signing: many(element({ key: z.string().min(1) }, {})) })) },
);

/** Package section types kiwi handles: the stages and the build types it builds. */
export const PACKAGES_TYPES = ['bootstrap', 'image', 'uninstall', 'delete', 'docker', 'oci', 'oem'] as const;

const packages = element(
  {
    type: z.enum(PACKAGES_TYPES),
    profiles: commaList.optional(),
    patternType: z.enum(['onlyRequired', 'plusRecommended']).optional(),
  },
  {
    package: many(element({ name: z.string().min(1), arch: archList.optional() }, {})),
    archive: many(element({ name: z.string().min(1), target_dir: z.string().optional() }, {})),
    file: many(
      element(
        {
          name: z.string().min(1),
          target: z.string().optional(),
          owner: z.string().optional(),
          permissions: z.string().regex(/^[0-7]{3,4}$|^[ugoa]*[+=-]/, 'expected an octal or symbolic mode').optional(),
          arch: archList.optional(),
        },
        {},
      ),
    ),
    namedCollection: many(unsupported('<namedCollection> is not supported: apt has no patterns, list the packages with <package>')),
  },
);

export const imageSchema = element(
  {
    name: safeName,
    displayname: z.string().optional(),
    id: z.string().optional(),
    schemaversion: z.string().regex(SCHEMA_VERSION, 'not supported, kiwi reads schema versions 7.4 to 8.x'),
    'xmlns:xsi': z.string().optional(),
    'xsi:noNamespaceSchemaLocation': z.string().optional(),
    'xsi:schemaLocation': z.string().optional(),
  },
  {
    description: one(description),
    preferences: oneOrMore(preferences),
    profiles: many(profiles),
    users: many(users),
    repository: many(repository),
    packages: many(packages),
  },
);

/** A description checked against the schema: typed, still with profiles= and paths. */
export type ImageDoc = z.output<typeof imageSchema>;
export type PreferencesDoc = ImageDoc['preferences'][number];
export type RepositoryDoc = ImageDoc['repository'][number];
export type PackagesDoc = ImageDoc['packages'][number];
export type UsersDoc = ImageDoc['users'][number];
export type ProfileDoc = ImageDoc['profiles'][number]['profile'][number];

/** Checks a parsed (includes resolved) description; every problem, with its XML path. */
export function checkSchema(root: RawNode): { doc: ImageDoc; problems: [] } | { doc: undefined; problems: Problem[] } {
  if (root.name !== 'image') {
    return { doc: undefined, problems: [{ where: root.path, message: `the root element must be <image>, not <${root.name}>` }] };
  }
  const input = toDocInput(root);
  const result = imageSchema.safeParse(input);
  if (result.success) return { doc: result.data, problems: [] };
  return { doc: undefined, problems: inDocumentOrder(issuesToProblems(result.error.issues, input), root) };
}

/** zod reports in schema order; users read files top to bottom. */
function inDocumentOrder(problems: Problem[], root: RawNode): Problem[] {
  const order = new Map<string, number>();
  const visit = (node: RawNode): void => {
    order.set(node.path, order.size);
    node.children.forEach(visit);
  };
  visit(root);
  const rank = (problem: Problem) => order.get(problem.where) ?? order.size;
  return problems.map((problem, index) => ({ problem, index }))
    .sort((a, b) => rank(a.problem) - rank(b.problem) || a.index - b.index)
    .map(({ problem }) => problem);
}
