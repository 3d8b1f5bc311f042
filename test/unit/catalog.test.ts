import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCatalog, resolveBox, userCatalogFile } from '../../src/box/catalog.js';
import { UsageError } from '../../src/common/errors.js';
import { tempDir } from '../fixtures/box-fixture.js';

function writeFile(file: string, text: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

describe('box catalog', () => {
  it('loads the bundled debian box for both arches, with no manifest published', () => {
    const catalog = loadCatalog({ env: { HOME: tempDir() }, cwd: tempDir() });
    expect(catalog.get('debian')?.arches).toEqual({ x86_64: { manifest: undefined }, aarch64: { manifest: undefined } });
  });

  it('lets a user file add boxes and override a bundled one per arch', () => {
    const dir = tempDir();
    const bundled = path.join(dir, 'bundled');
    writeFile(path.join(bundled, 'debian/box.yaml'), 'name: debian\ndescription: bundled\narch:\n  x86_64: {}\n  aarch64: {}\n');
    const user = writeFile(
      path.join(dir, 'user.yaml'),
      'boxes:\n  - name: debian\n    arch:\n      x86_64: { manifest: "https://boxes.example/debian/x86_64/box.json" }\n  - name: mine\n    description: my box\n    arch:\n      aarch64: { manifest: "file:///srv/mine/box.json" }\n',
    );
    const catalog = loadCatalog({ env: { KIWI_BOX_CONFIG: user }, bundledDir: bundled });
    expect(catalog.get('debian')).toMatchObject({
      description: 'bundled',
      arches: { x86_64: { manifest: 'https://boxes.example/debian/x86_64/box.json' }, aarch64: { manifest: undefined } },
    });
    expect(resolveBox(catalog, 'mine', 'aarch64').manifest).toBe('file:///srv/mine/box.json');
  });

  it('names unknown boxes and arches with what exists', () => {
    const catalog = loadCatalog({ env: { HOME: tempDir() }, cwd: tempDir() });
    expect(() => resolveBox(catalog, 'fedora', 'x86_64')).toThrow(UsageError);
    try {
      resolveBox(catalog, 'fedora', 'x86_64');
    } catch (error) {
      expect((error as UsageError).hint).toBe('boxes in the catalog: debian');
    }
  });

  it('finds the user file in order: KIWI_BOX_CONFIG, ./kiwi-boxes.yaml, ~/.config/kiwi/boxes.yaml', () => {
    const home = tempDir();
    const cwd = tempDir();
    expect(userCatalogFile({ HOME: home }, cwd)).toBeUndefined();
    const inHome = writeFile(path.join(home, '.config/kiwi/boxes.yaml'), 'boxes: []\n');
    expect(userCatalogFile({ HOME: home }, cwd)).toBe(inHome);
    const inCwd = writeFile(path.join(cwd, 'kiwi-boxes.yaml'), 'boxes: []\n');
    expect(userCatalogFile({ HOME: home }, cwd)).toBe(inCwd);
    const named = writeFile(path.join(home, 'named.yaml'), 'boxes: []\n');
    expect(userCatalogFile({ HOME: home, KIWI_BOX_CONFIG: named }, cwd)).toBe(named);
    const xdg = tempDir();
    const inXdg = writeFile(path.join(xdg, 'kiwi/boxes.yaml'), 'boxes: []\n');
    expect(userCatalogFile({ HOME: home, XDG_CONFIG_HOME: xdg }, tempDir())).toBe(inXdg);
  });

  it('reports every problem of a bad user file with its path', () => {
    const file = writeFile(
      path.join(tempDir(), 'bad.yaml'),
      'boxes:\n  - name: Bad Name\n    arch:\n      sparc: {}\n      x86_64: { manifest: "not a url" }\n',
    );
    expect(() => loadCatalog({ env: { KIWI_BOX_CONFIG: file }, bundledDir: tempDir() })).toThrow(
      /bad box catalog .*bad\.yaml: boxes\[0\]\.name: lower-case.*; boxes\[0\]\.arch\.\w+/,
    );
  });
});
