import { z } from 'zod';
import type { RawNode } from './parse.js';
import type { Problem } from './problems.js';

/**
 * The zod side of a RawNode: attributes and children keyed by name, so one zod schema
 * per element can say which attributes and children it takes (unknown keys are issues).
 */
export interface DocInput {
  /** Element name. */
  name: string;
  /** XML path of the element, for messages. */
  xmlPath: string;
  /** Attributes as written. */
  attrs: Record<string, string>;
  /** Child elements by name, each list in document order. */
  children: Record<string, DocInput[]>;
  /** Trimmed text content, undefined when only whitespace. */
  text: string | undefined;
}

export function toDocInput(node: RawNode): DocInput {
  const children: Record<string, DocInput[]> = {};
  for (const child of node.children) (children[child.name] ??= []).push(toDocInput(child));
  return { name: node.name, xmlPath: node.path, attrs: node.attrs, children, text: node.text };
}

/**
 * The schema of one element: its attributes (strict), its children (strict) and its
 * text. The output is flat: `{ xmlPath, text, ...attributes, ...children }`.
 */
export function element<A extends z.ZodRawShape, C extends z.ZodRawShape, T extends z.ZodType = z.ZodUndefined>(
  attrs: A,
  children: C,
  text?: T,
) {
  const supported = (keys: string[]) => (keys.length > 0 ? `supported: ${keys.join(', ')}` : 'none supported');
  return z
    .object({
      name: z.string(),
      xmlPath: z.string(),
      attrs: z.strictObject(attrs, { error: unknownKeys(supported(Object.keys(attrs))) }),
      children: z.strictObject(children, { error: unknownKeys(supported(Object.keys(children))) }),
      text: (text ?? z.undefined({ error: 'text is not allowed here' })) as T,
    })
    .transform((node) => {
      // text may be an optional key in the generic output type; it is always present in the input.
      const { xmlPath, attrs, children, text } = node as typeof node & { text: z.output<T> };
      return { xmlPath, text, ...attrs, ...children };
    });
}

/** The message of an unrecognized_keys issue is the list of supported names, which the mapper quotes. */
function unknownKeys(message: string) {
  return (issue: { code?: string }) => (issue.code === 'unrecognized_keys' ? message : undefined);
}

/** Any number of a child element (KIWI's `*`). */
export const many = <S extends z.ZodType>(schema: S) => z.array(schema).default([]);
/** At most one (KIWI's `?`): the element or undefined. */
export const optionalOne = <S extends z.ZodType>(schema: S) =>
  z.array(schema).max(1).default([]).transform((list) => list[0]);
/** Exactly one. */
export const one = <S extends z.ZodType>(schema: S) =>
  z.array(schema).length(1).transform((list) => list[0] as z.output<S>);
/** One or more (KIWI's `+`). */
export const oneOrMore = <S extends z.ZodType>(schema: S) => z.array(schema).min(1);

/** xsd:boolean: true, false, 1, 0. */
export const xmlBool = z
  .enum(['true', 'false', '1', '0'], { error: 'expected true or false' })
  .transform((value) => value === 'true' || value === '1');

/** A required text content (`<author>Me</author>`). */
export const requiredText = z.string({ error: 'text is required here' }).min(1);

/** Turns zod issues on a DocInput tree into problems at the XML path of the element concerned. */
export function issuesToProblems(issues: readonly z.core.$ZodIssue[], root: DocInput): Problem[] {
  return issues.flatMap((issue) => issueToProblems(issue, root));
}

function issueToProblems(issue: z.core.$ZodIssue, root: DocInput): Problem[] {
  // The issue path runs children.NAME.INDEX... down to the element concerned.
  const path = issue.path;
  let node = root;
  let at = 0;
  while (path[at] === 'children' && typeof path[at + 2] === 'number') {
    const next = node.children[String(path[at + 1])]?.[path[at + 2] as number];
    if (!next) break;
    node = next;
    at += 3;
  }
  const [area, key] = path.slice(at);
  const where = node.xmlPath;
  const tag = `<${node.name}>`;
  if (area === 'attrs' && issue.code === 'unrecognized_keys') {
    return issue.keys.map((name) => ({ where, message: `unknown attribute "${name}" on ${tag} (${issue.message})` }));
  }
  if (area === 'children' && issue.code === 'unrecognized_keys') {
    return issue.keys.flatMap((name) =>
      (node.children[name] ?? []).map((child) => ({
        where: child.xmlPath,
        message: `unknown element <${name}> in ${tag} (${issue.message})`,
      })),
    );
  }
  if (area === 'attrs' && key !== undefined) {
    const value = node.attrs[String(key)];
    if (value === undefined) return [{ where, message: `missing attribute "${String(key)}" on ${tag}` }];
    return [{ where, message: `${tag} ${String(key)}="${value}": ${lowerFirst(issue.message)}` }];
  }
  if (area === 'children' && key !== undefined) {
    const child = `<${String(key)}>`;
    if (issue.code === 'too_big') return [{ where, message: `more than one ${child} in ${tag}` }];
    return [{ where, message: `missing ${child} in ${tag}` }];
  }
  if (area === 'text') return [{ where, message: `${tag} ${node.text === undefined ? 'text' : `"${node.text}"`}: ${lowerFirst(issue.message)}` }];
  return [{ where, message: issue.message }];
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
