import { symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EnvironmentError, UsageError } from '../../src/common/errors.js';
import { findDescriptionFile } from '../../src/builder/description/find.js';
import { tempDir } from '../fixtures/temp-dir.js';

const fixtures = resolve(__dirname, '../fixtures/descriptions/find');

function failure(run: () => unknown): UsageError {
  try {
    run();
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
  throw new Error('expected a UsageError');
}

describe('findDescriptionFile', () => {
  it('prefers config.xml over *.kiwi', () => {
    expect(findDescriptionFile(join(fixtures, 'xml'))).toBe(join(fixtures, 'xml', 'config.xml'));
  });

  it('falls back to image/config.xml before *.kiwi', () => {
    expect(findDescriptionFile(join(fixtures, 'image'))).toBe(join(fixtures, 'image', 'image', 'config.xml'));
  });

  it('takes the first *.kiwi in sorted order', () => {
    expect(findDescriptionFile(join(fixtures, 'kiwi'))).toBe(join(fixtures, 'kiwi', 'a.kiwi'));
  });

  it('takes --kiwi-file over everything else', () => {
    expect(findDescriptionFile(join(fixtures, 'both'), 'custom.xml')).toBe(join(fixtures, 'both', 'custom.xml'));
  });

  it('names what it looked for when nothing is there (exit 2)', () => {
    const error = failure(() => findDescriptionFile(join(fixtures, 'empty')));
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(`no description found in ${join(fixtures, 'empty')}: looked for config.xml, image/config.xml and *.kiwi`);
  });

  it('reports a missing --kiwi-file with its path', () => {
    const error = failure(() => findDescriptionFile(join(fixtures, 'both'), 'nope.kiwi'));
    expect(error.message).toBe(`--kiwi-file nope.kiwi: ${join(fixtures, 'both', 'nope.kiwi')} does not exist`);
  });

  it('reports a description directory that does not exist', () => {
    const missing = join(tempDir('kiwi-find-'), 'gone');
    const error = failure(() => findDescriptionFile(missing));
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(`description directory ${missing} does not exist or is not a directory`);
  });

  it('says why a description directory cannot be read when it is not simply missing', () => {
    const loop = join(tempDir('kiwi-find-'), 'loop');
    symlinkSync(loop, loop);
    expect(() => findDescriptionFile(loop)).toThrow(EnvironmentError);
    expect(() => findDescriptionFile(loop)).toThrow(new RegExp(`^cannot read the description directory ${loop}: ELOOP`));
  });
});
