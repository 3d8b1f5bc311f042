import xml2js from 'xml2js';

/**
 * One element of a description as written, before any schema: what the schema step
 * validates and what every message points at.
 */
export interface RawNode {
  /** Element name, e.g. `type`. */
  name: string;
  /** XPath-like location, e.g. `/image/preferences[2]/type[1]`; `file.xml:` prefixed for included files. */
  path: string;
  /** Attributes as written (namespace declarations included). */
  attrs: Record<string, string>;
  /** Child elements in document order. */
  children: RawNode[];
  /** Text content, trimmed; undefined when there is none but whitespace. */
  text: string | undefined;
}

/** The result of parsing one XML text: the root element, or why it could not be read. */
export type ParseResult = { ok: true; root: RawNode } | { ok: false; message: string };

interface Xml2jsNode {
  '#name': string;
  $?: Record<string, string>;
  $$?: Xml2jsNode[];
  _?: string;
}

/**
 * Parses XML text into a RawNode tree. `pathPrefix` ("common.xml:") marks nodes that
 * come from an included file. Pure: xml2js calls back synchronously with async off.
 */
export function parseXml(text: string, pathPrefix = ''): ParseResult {
  let result: ParseResult = { ok: false, message: 'the XML parser returned nothing' };
  // Sibling order decides preference merging and type selection, and xml2js keeps it
  // only with explicitChildren + preserveChildrenOrder.
  const options = { explicitChildren: true, preserveChildrenOrder: true, explicitRoot: true, async: false };
  xml2js.parseString(text, options, (error: Error | null, document: Record<string, Xml2jsNode> | null) => {
    if (error) {
      result = { ok: false, message: `not well-formed XML: ${error.message.replace(/\s+/g, ' ').trim()}` };
      return;
    }
    const top = document ? Object.values(document)[0] : undefined;
    if (top) result = { ok: true, root: toRawNode(top, `${pathPrefix}/${top['#name']}`) };
    else result = { ok: false, message: 'the file has no root element' };
  });
  return result;
}

function toRawNode(node: Xml2jsNode, path: string): RawNode {
  const seen = new Map<string, number>();
  const children = (node.$$ ?? []).map((child) => {
    const index = (seen.get(child['#name']) ?? 0) + 1;
    seen.set(child['#name'], index);
    return toRawNode(child, `${path}/${child['#name']}[${index}]`);
  });
  const text = typeof node._ === 'string' && node._.trim() !== '' ? node._.trim() : undefined;
  return { name: node['#name'], path, attrs: { ...(node.$ ?? {}) }, children, text };
}
