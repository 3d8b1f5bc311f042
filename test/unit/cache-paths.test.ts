import { describe, expect, it } from 'vitest';
import { cacheRoot, currentLink, partialFile } from '../../src/box/paths.js';

describe('cache paths', () => {
  it('takes KIWI_BOXED_CACHE_DIR, then XDG_CACHE_HOME, then ~/.cache', () => {
    expect(cacheRoot({ KIWI_BOXED_CACHE_DIR: '/c', XDG_CACHE_HOME: '/x', HOME: '/h' })).toBe('/c');
    expect(cacheRoot({ XDG_CACHE_HOME: '/x', HOME: '/h' })).toBe('/x/kiwi/boxes');
    expect(cacheRoot({ HOME: '/h' })).toBe('/h/.cache/kiwi/boxes');
  });

  it('lays out boxes by name and arch, partial downloads by digest', () => {
    expect(currentLink('/c', 'debian', 'aarch64')).toBe('/c/debian/aarch64/current');
    expect(partialFile('/c', 'ab'.repeat(32))).toBe(`/c/.partial/${'ab'.repeat(32)}.part`);
  });
});
