import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/box/manifest.js';
import { EnvironmentError } from '../../src/common/errors.js';
import { makeFixtureBox } from '../fixtures/box-fixture.js';

const valid = (): Record<string, unknown> => JSON.parse(JSON.stringify(makeFixtureBox().manifest)) as Record<string, unknown>;

describe('box manifest', () => {
  it('parses a valid manifest and derives an id from version and content', () => {
    const text = JSON.stringify(valid());
    const parsed = parseManifest(text, 'test');
    expect(parsed.id).toMatch(/^1\.0\.0-[0-9a-f]{12}$/);
    expect(parseManifest(text, 'test').id).toBe(parsed.id);
    expect(parseManifest(JSON.stringify({ ...valid(), cpus: 4 }), 'test').id).not.toBe(parsed.id);
  });

  it.each([
    ['../../etc/passwd', 'files[0].path: must be a relative path'],
    ['/etc/passwd', 'files[0].path: must be a relative path'],
    ['.hidden', 'files[0].path: must be a relative path'],
    ['a/../b', 'files[0].path: must be a relative path'],
  ])('refuses the file path %s, which could escape the cache', (badPath, message) => {
    const manifest = valid();
    (manifest.files as { path: string }[])[0]!.path = badPath;
    expect(() => parseManifest(JSON.stringify(manifest), 'test')).toThrow(message);
  });

  it('names a bad field with its path', () => {
    expect(() => parseManifest(JSON.stringify({ ...valid(), arch: 'sparc', memoryMiB: 'lots' }), 'u')).toThrow(
      /^bad box manifest u: arch: Invalid option: expected one of "x86_64"\|"aarch64"; memoryMiB: Invalid input: expected number, received string$/,
    );
  });

  it('names missing roles and duplicate paths together', () => {
    const manifest = valid();
    const files = manifest.files as { path: string; role: string }[];
    manifest.files = [files[0], { ...files[0] }];
    const error = (() => {
      try {
        parseManifest(JSON.stringify(manifest), 'http://x/box.json');
      } catch (caught) {
        return caught as EnvironmentError;
      }
      throw new Error('no error');
    })();
    expect(error).toBeInstanceOf(EnvironmentError);
    expect(error.message).toContain('bad box manifest http://x/box.json: ');
    expect(error.message).toContain('files[1].path: duplicate path vmlinux');
    expect(error.message).toContain('files: no file with role "disk"');
  });

  it('says when the manifest is not JSON', () => {
    expect(() => parseManifest('<html>', 'u')).toThrow(/bad box manifest u: not JSON/);
  });
});
