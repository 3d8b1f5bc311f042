import { isAbsolute, join, normalize, relative } from 'node:path';
import { parseXml, type RawNode } from './parse.js';
import type { Problem } from './problems.js';

/** Reads one file for an include; undefined when it does not exist. */
export type ReadFile = (absolutePath: string) => string | undefined;

/**
 * Replaces every `<include from="...">` child of `<image>` with the children of the
 * included file's `<image>` root, in place, as KIWI's include.xsl does. Unlike KIWI,
 * included files may include others; a cycle is an error. Problems are collected.
 *
 * @param mainFile absolute path of the file `root` was parsed from
 * @param descriptionDir absolute path `this://` is relative to
 */
export function resolveIncludes(
  root: RawNode,
  mainFile: string,
  descriptionDir: string,
  readFile: ReadFile,
): { root: RawNode; problems: Problem[] } {
  const problems: Problem[] = [];
  const name = (file: string): string => displayName(file, descriptionDir);
  // chain: the absolute files being expanded, outermost first, to catch cycles.
  const expand = (node: RawNode, chain: string[]): RawNode[] =>
    node.children.flatMap((child) => {
      if (child.name !== 'include') return [child];
      const included = loadInclude(child, chain);
      return included ? expand(included.root, [...chain, included.file]) : [];
    });
  const loadInclude = (include: RawNode, chain: string[]): { root: RawNode; file: string } | undefined => {
    const report = (message: string): undefined => {
      problems.push({ where: include.path, message });
      return undefined;
    };
    const unknown = Object.keys(include.attrs).filter((attr) => attr !== 'from');
    if (unknown.length > 0) return report(`unknown attribute "${unknown[0]}" on <include> (supported: from)`);
    if (include.children.length > 0 || include.text) return report('<include> must be empty');
    const from = include.attrs.from;
    if (!from) return report('missing attribute "from" on <include>');
    const file = includePath(from, descriptionDir);
    if (!file) {
      return report(`include from="${from}" is not supported: use this://FILE (relative to the description) or file:///PATH`);
    }
    if (chain.includes(file)) return report(`include cycle: ${[...chain, file].map(name).join(' -> ')}`);
    const text = readFile(file);
    if (text === undefined) return report(`included file ${file} does not exist`);
    const parsed = parseXml(text, `${name(file)}:`);
    if (!parsed.ok) return report(`included file ${name(file)}: ${parsed.message}`);
    if (parsed.root.name !== 'image') {
      return report(`included file ${name(file)} must have <image> as its root element, not <${parsed.root.name}>`);
    }
    return { root: parsed.root, file };
  };
  return { root: { ...root, children: expand(root, [mainFile]) }, problems };
}

/** The absolute file an include URI names, or undefined for a URI kiwi does not read. */
export function includePath(from: string, descriptionDir: string): string | undefined {
  if (from.startsWith('this://')) return normalize(join(descriptionDir, from.slice('this://'.length)));
  if (from.startsWith('file://')) {
    const path = from.slice('file://'.length);
    return isAbsolute(path) ? normalize(path) : normalize(join(descriptionDir, path));
  }
  return undefined;
}

/** How messages name a file: relative to the description when inside it. */
function displayName(file: string, descriptionDir: string): string {
  const rel = relative(descriptionDir, file);
  return rel.startsWith('..') || isAbsolute(rel) ? file : rel;
}
