import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { findDescriptionFile } from './find.js';
import { resolveIncludes, type ReadFile } from './include.js';
import type { ImageModel } from './model.js';
import { parseXml } from './parse.js';
import { DescriptionError, throwIfProblems } from './problems.js';
import { resolveImage, type ResolveOptions } from './resolve.js';
import { checkSchema } from './schema.js';
import { validateImage } from './validate.js';

/** What loading needs beyond ResolveOptions: where the description is. */
export type LoadOptions = Omit<ResolveOptions, 'descriptionDir' | 'descriptionFile'> & {
  /** --description directory (made absolute here). */
  descriptionDir: string;
  /** --kiwi-file, if given. */
  kiwiFile: string | undefined;
};

/**
 * The whole description step of a build: find, read, parse, include, check, resolve,
 * validate. Throws a UsageError (no description) or one DescriptionError listing every
 * problem of the first stage that had any (later stages need the earlier ones sound).
 */
export function loadImageModel(options: LoadOptions): ImageModel {
  const descriptionDir = resolve(options.descriptionDir);
  const descriptionFile = findDescriptionFile(descriptionDir, options.kiwiFile);
  return describeImage(readFileSync(descriptionFile, 'utf8'), { ...options, descriptionDir, descriptionFile }, readIfExists);
}

/** The same from the text of the main file, with includes read by `readFile`: pure given a pure reader. */
export function describeImage(text: string, options: ResolveOptions, readFile: ReadFile): ImageModel {
  const { descriptionFile } = options;
  const parsed = parseXml(text);
  if (!parsed.ok) throw new DescriptionError(descriptionFile, [{ where: '/', message: parsed.message }]);
  // The directory of the file is where image/config.xml's own this:// paths point.
  const included = resolveIncludes(parsed.root, descriptionFile, dirname(descriptionFile), readFile);
  const checked = checkSchema(included.root);
  throwIfProblems(descriptionFile, [...included.problems, ...checked.problems]);
  if (!checked.doc) throw new DescriptionError(descriptionFile, [{ where: '/image', message: 'the description could not be read' }]);
  const resolved = resolveImage(checked.doc, options);
  const problems = [...resolved.problems, ...(resolved.model ? validateImage(resolved.model) : [])];
  throwIfProblems(descriptionFile, problems);
  if (!resolved.model) throw new DescriptionError(descriptionFile, [{ where: '/image', message: 'no image could be resolved' }]);
  return resolved.model;
}

const readIfExists: ReadFile = (path) => (existsSync(path) ? readFileSync(path, 'utf8') : undefined);
