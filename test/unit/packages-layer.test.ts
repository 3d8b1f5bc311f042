import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadImageModel } from '../../src/builder/description/load.js';
import { buildCachePaths, packagesLayerPaths } from '../../src/builder/paths.js';
import { driverScripts } from '../../src/builder/steps/driver-script.js';
import { ensurePackagesLayer, packagesLayerInputs, packagesLineage, releaseHashes, repositoryState } from '../../src/builder/steps/packages-layer.js';
import { IN_USE_DIR } from '../../src/common/in-use.js';
import { processIdentity } from '../../src/common/process-identity.js';
import { tempDir } from '../fixtures/temp-dir.js';

const examples = resolve(__dirname, '../../descriptions');
const files = { postBootstrap: false, config: true, images: false, rootDir: true, rootTar: false, profileDirs: [] };
const load = (name: string, addPackages: string[] = []) =>
  loadImageModel({ descriptionDir: join(examples, name), kiwiFile: undefined, arch: 'x86_64', profiles: [], type: undefined, setRepo: undefined, addRepos: [], addPackages, deletePackages: [] });
const lineageOf = (model: ReturnType<typeof load>, bootstrapKey = 'b'.repeat(32), found = files) => packagesLineage(packagesLayerInputs(model, bootstrapKey, driverScripts(model, found).packages, found));

describe('packages layer lineage', () => {
  it('changes with the packages, the bootstrap layer and post_bootstrap.sh, not with what the image phase does', () => {
    const minimal = lineageOf(load('debian-minimal'));
    expect(minimal).toMatch(/^[0-9a-f]{32}$/);
    expect(lineageOf(load('debian-minimal'))).toBe(minimal);
    expect(lineageOf(load('debian-minimal', ['curl']))).not.toBe(minimal);
    expect(lineageOf(load('debian-minimal'), 'c'.repeat(32))).not.toBe(minimal);
    expect(lineageOf(load('debian-container'))).not.toBe(minimal);
    // config.sh, overlays and images.sh run over the layer, not in it.
    expect(lineageOf(load('debian-minimal'), undefined, { ...files, config: false, images: true, rootDir: false })).toBe(minimal);
  });

  it('takes post_bootstrap.sh\'s text in', () => {
    const dir = tempDir('kiwi-pb-');
    writeFileSync(join(dir, 'config.kiwi'), readFileSync(join(examples, 'debian-minimal', 'config.kiwi'), 'utf8'));
    const model = loadImageModel({ descriptionDir: dir, kiwiFile: undefined, arch: 'x86_64', profiles: [], type: undefined, setRepo: undefined, addRepos: [], addPackages: [], deletePackages: [] });
    const withScript = { ...files, postBootstrap: true };
    writeFileSync(join(dir, 'post_bootstrap.sh'), 'echo one\n');
    const one = lineageOf(model, undefined, withScript);
    writeFileSync(join(dir, 'post_bootstrap.sh'), 'echo two\n');
    expect(lineageOf(model, undefined, withScript)).not.toBe(one);
    expect(one).not.toBe(lineageOf(model));
  });
});

describe('repository state', () => {
  it('is the release files\' names and contents, and the index files no release file covers; not the lock or partial/', () => {
    const lists = tempDir('kiwi-lists-');
    const write = (name: string, text: string) => writeFileSync(join(lists, name), text);
    const release = (date: string, hash: string) => `-----BEGIN PGP SIGNED MESSAGE-----\nDate: ${date}\nValid-Until: ${date}\nSHA256:\n ${hash} 8 main/binary-amd64/Packages\n ${hash}0 9 main/binary-arm64/Packages\n-----BEGIN PGP SIGNATURE-----\n${date}\n`;
    write('deb.debian.org_debian_dists_bookworm_InRelease', release('Sat, 10 Jun 2023', 'abc'));
    write('deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages', 'Package: less\n');
    const first = repositoryState(lists);
    mkdirSync(join(lists, 'partial'));
    write('lock', '');
    expect(repositoryState(lists)).toBe(first);
    // The InRelease's hashes stand for its Packages files (apt checks them).
    write('deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages', 'Package: less\nVersion: 2\n');
    expect(repositoryState(lists)).toBe(first);
    // Re-signed with a new date, the same hashes: the same state.
    write('deb.debian.org_debian_dists_bookworm_InRelease', release('Sat, 17 Jun 2023', 'abc'));
    expect(repositoryState(lists)).toBe(first);
    write('deb.debian.org_debian_dists_bookworm_InRelease', release('Sat, 07 Oct 2023', 'def'));
    const second = repositoryState(lists);
    expect(second).not.toBe(first);
    // Another suite of the same archive is not covered by bookworm's InRelease.
    write('deb.debian.org_debian_dists_bookworm-updates_main_binary-amd64_Packages', 'Package: tzdata\n');
    const third = repositoryState(lists);
    expect(third).not.toBe(second);
    // A flat local repository without a Release file: its Packages file is read whole.
    write('_tmp_kiwi-repos_2-local_._Packages', 'Package: mine\nVersion: 1\n');
    const fourth = repositoryState(lists);
    expect(fourth).not.toBe(third);
    write('_tmp_kiwi-repos_2-local_._Packages', 'Package: mine\nVersion: 2\n');
    expect(repositoryState(lists)).not.toBe(fourth);
  });
});

describe('releaseHashes', () => {
  it('is the SHA256 field of a real-looking InRelease, up to the next field', () => {
    const text = 'Origin: Debian\nDate: Sat, 07 Oct 2023 09:33:12 UTC\nMD5Sum:\n 00 1 main/Contents-all\nSHA256:\n aa 10 main/binary-amd64/Packages\n bb 20 main/binary-amd64/Packages.xz\nAcquire-By-Hash: yes\n';
    expect(releaseHashes(text)).toBe(' aa 10 main/binary-amd64/Packages\n bb 20 main/binary-amd64/Packages.xz\n');
    expect(releaseHashes('Origin: x\n')).toBeUndefined();
  });
});

describe('ensurePackagesLayer', () => {
  const made = (upperDir: string, file: string) => {
    mkdirSync(upperDir);
    writeFileSync(join(upperDir, file), 'installed');
  };

  it('makes a layer once, then reuses it; a new repository state replaces the old one once no build uses it', async () => {
    const cache = buildCachePaths(tempDir('kiwi-cache-'));
    const lineage = 'a'.repeat(32);
    let makes = 0;
    const first = await ensurePackagesLayer(cache, lineage, '1'.repeat(32), async (upper) => {
      makes += 1;
      made(upper, 'one');
    });
    expect(first.status).toBe('built');
    expect(readFileSync(join(first.upper, 'one'), 'utf8')).toBe('installed');
    const again = await ensurePackagesLayer(cache, lineage, '1'.repeat(32), async () => {
      throw new Error('not to be made again');
    });
    expect(again).toMatchObject({ status: 'cached', upper: first.upper, key: `${lineage}/${'1'.repeat(32)}` });
    expect(makes).toBe(1);
    // Both builds still use the first layer: a second state leaves it alone.
    const second = await ensurePackagesLayer(cache, lineage, '2'.repeat(32), async (upper) => made(upper, 'two'));
    expect(existsSync(first.upper)).toBe(true);
    await first.release();
    await again.release();
    await second.release();
    // With no user left, the next build of either state keeps only its own.
    const third = await ensurePackagesLayer(cache, lineage, '2'.repeat(32), async () => {
      throw new Error('cached');
    });
    expect(third.status).toBe('cached');
    expect(readdirSync(join(cache.packagesDir, lineage))).toEqual(['2'.repeat(32)]);
    await third.release();
    expect(readdirSync(cache.packagesDir).sort()).toEqual([lineage]);
  });

  it('a failed make leaves no layer and no temporary directory; a layer of a dead build\'s use is pruned', async () => {
    const cache = buildCachePaths(tempDir('kiwi-cache-'));
    const lineage = 'd'.repeat(32);
    await expect(
      ensurePackagesLayer(cache, lineage, '1'.repeat(32), async (upper) => {
        made(upper, 'half');
        throw new Error('apt-get failed');
      }),
    ).rejects.toThrow('apt-get failed');
    expect(readdirSync(join(cache.packagesDir, lineage))).toEqual([]);
    expect(existsSync(`${join(cache.packagesDir, lineage)}.lock`)).toBe(false);
    // A layer marked by a process that has exited counts as unused.
    const old = packagesLayerPaths(cache, lineage, '0'.repeat(32));
    mkdirSync(join(old.dir, IN_USE_DIR), { recursive: true });
    writeFileSync(old.meta, '{}');
    const child = spawn('true');
    const pid = await new Promise<number>((done) => child.on('spawn', () => done(child.pid!)));
    const identity = processIdentity(pid) ?? `${pid}-0`;
    await new Promise((done) => child.on('exit', done));
    writeFileSync(join(join(old.dir, IN_USE_DIR), identity), '');
    const layer = await ensurePackagesLayer(cache, lineage, '1'.repeat(32), async (upper) => made(upper, 'one'));
    expect(existsSync(old.dir)).toBe(false);
    await layer.release();
  });
});
