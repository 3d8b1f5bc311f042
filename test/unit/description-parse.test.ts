import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveIncludes } from '../../src/builder/description/include.js';
import { parseXml, type RawNode } from '../../src/builder/description/parse.js';
import { DescriptionError } from '../../src/builder/description/problems.js';
import { loadFixture } from '../fixtures/descriptions/load-fixture.js';

const fixtures = resolve(__dirname, '../fixtures/descriptions');
const read = (path: string) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

function parsed(text: string): RawNode {
  const result = parseXml(text);
  if (!result.ok) throw new Error(result.message);
  return result.root;
}

const load = (dir: string): ReturnType<typeof loadFixture> => loadFixture(dir);

function problemsOf(run: () => unknown): DescriptionError {
  try {
    run();
  } catch (error) {
    if (error instanceof DescriptionError) return error;
    throw error;
  }
  throw new Error('expected a DescriptionError');
}

describe('parseXml', () => {
  it('keeps sibling order across element names and numbers each name separately', () => {
    const root = parsed('<image><preferences/><repository/><preferences><type image="tbz"/><type image="oci"/></preferences></image>');
    expect(root.children.map((child) => child.path)).toEqual([
      '/image/preferences[1]',
      '/image/repository[1]',
      '/image/preferences[2]',
    ]);
    expect(root.children[2]?.children.map((child) => [child.path, child.attrs.image])).toEqual([
      ['/image/preferences[2]/type[1]', 'tbz'],
      ['/image/preferences[2]/type[2]', 'oci'],
    ]);
  });

  it('trims text and leaves whitespace-only content undefined', () => {
    const root = parsed('<image><version>\n  1.0.0 \n</version><preferences>\n</preferences></image>');
    expect(root.children.map((child) => child.text)).toEqual(['1.0.0', undefined]);
  });

  it('reports XML that is not well-formed', () => {
    const result = parseXml('<image><preferences></image>');
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toMatch(/^not well-formed XML: Unexpected close tag Line: 0 Column: \d+/);
  });
});

describe('includes', () => {
  it('splices included children in place, nested includes too, with their own file in the path', () => {
    const dir = join(fixtures, 'includes');
    const main = join(dir, 'config.kiwi');
    const { root, problems } = resolveIncludes(parsed(read(main) ?? ''), main, dir, read);
    expect(problems).toEqual([]);
    expect(root.children.map((child) => child.path)).toEqual([
      'description.xml:/image/description[1]',
      '/image/preferences[1]',
      'repos/common.xml:/image/repository[1]',
      'packages.xml:/image/packages[1]',
      '/image/repository[1]',
    ]);
  });

  it('reports problems inside an included file with that file in the XML path', () => {
    const error = problemsOf(() => load('includes'));
    expect(error.problems).toEqual([
      {
        where: 'packages.xml:/image/packages[1]/package[2]',
        message: 'unknown attribute "unknown" on <package> (supported: name, arch)',
      },
    ]);
  });

  it('reports a cycle and a missing file together', () => {
    const error = problemsOf(() => load('include-cycle'));
    expect(error.exitCode).toBe(2);
    expect(error.problems).toEqual([
      { where: 'b.xml:/image/include[1]', message: 'include cycle: config.kiwi -> a.xml -> b.xml -> a.xml' },
      { where: 'b.xml:/image/include[2]', message: `included file ${join(fixtures, 'include-cycle', 'missing.xml')} does not exist` },
      { where: '/image', message: 'missing <description> in <image>' },
      { where: '/image', message: 'missing <preferences> in <image>' },
    ]);
  });

  it('rejects include URIs other than this:// and file://', () => {
    const { problems } = resolveIncludes(parsed('<image><include from="http://x/y.xml"/></image>'), '/d/config.kiwi', '/d', read);
    expect(problems).toEqual([
      {
        where: '/image/include[1]',
        message: 'include from="http://x/y.xml" is not supported: use this://FILE (relative to the description) or file:///PATH',
      },
    ]);
  });

  it('requires <image> as the root of an included file', () => {
    const files: Record<string, string> = { '/d/part.xml': '<repository/>' };
    const { problems } = resolveIncludes(parsed('<image><include from="this://part.xml"/></image>'), '/d/config.kiwi', '/d', (path) => files[path]);
    expect(problems).toEqual([
      { where: '/image/include[1]', message: 'included file part.xml must have <image> as its root element, not <repository>' },
    ]);
  });
});
