import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { UNUSED_DOWNLOAD_DAYS } from '../../src/builder/steps/apt-archives.js';
import { CONTAINER_STEPS } from '../../src/builder/steps/driver-script.js';
import { localRepoDescription, publishHello } from '../fixtures/local-repo-description.js';
import { runKiwi } from '../fixtures/run-kiwi.js';
import { tempDir } from '../fixtures/temp-dir.js';

// `kiwi build` natively as root: real mmdebstrap, apt, containers; the results checked with
// tar, skopeo and umoci. One cache dir for every test and run, so the bootstrap layer
// (about a minute of mmdebstrap) is made once and shared.
const isRoot = process.getuid?.() === 0;
const REPO = path.resolve(__dirname, '../..');
const CACHE = process.env.KIWI_TEST_BUILD_CACHE ?? '/var/tmp/kiwi-build-test-cache';
const LONG = 900_000;

interface BuildJson {
  image: string;
  packages: string;
  bootstrap: 'cached' | 'built';
  seconds: number;
  references?: string[];
}

async function build(description: string, target: string) {
  const done = await runKiwi(['build', '--description', description, '--target-dir', target, '--json'], { env: { KIWI_BUILD_CACHE_DIR: CACHE } });
  const line = String(done.stdout).trim().split('\n').pop() ?? '';
  return { exitCode: done.exitCode, stderr: String(done.stderr), json: line ? (JSON.parse(line) as BuildJson & { message?: string }) : undefined };
}

describe.skipIf(!isRoot)('kiwi build (native, root)', () => {
  beforeAll(() => {
    if (!fs.existsSync(path.join(REPO, 'dist', 'cli', 'build.js'))) throw new Error('build first: npm run build');
  });

  it('builds debian-minimal as NAME.ARCH-VERSION.tar.xz with owners, links, the overlay and no build caches', { timeout: LONG }, async () => {
    const target = tempDir('kiwi-build-tbz-');
    const done = await build(path.join(REPO, 'descriptions/debian-minimal'), target);
    expect(done.exitCode, done.stderr).toBe(0);
    const image = path.join(target, 'debian-minimal.x86_64-1.0.0.tar.xz');
    expect(done.json?.image).toBe(image);
    expect(done.stderr).toMatch(/kiwi: config done \(/);
    const listing = String((await execa('tar', ['-tvJf', image])).stdout).split('\n');
    const entry = (name: string) => listing.find((line) => line.endsWith(` ${name}`) || line.includes(` ${name} -> `));
    expect(entry('./usr/bin/sh')).toBeDefined();
    expect(entry('./etc/os-release')).toMatch(/^l.* 0\/0 .* -> \.\.\/usr\/lib\/os-release$/);
    expect(entry('./bin')).toMatch(/^l.* -> usr\/bin$/);
    expect(entry('./etc/motd')).toMatch(/^-rw-r--r-- 0\/0 /);
    expect(entry('./usr/bin/less')).toBeDefined();
    expect(listing.filter((line) => /\/var\/cache\/apt\/archives\/.*\.deb$/.test(line))).toEqual([]);
    expect(listing.filter((line) => /\/var\/lib\/apt\/lists\/.*_Packages$/.test(line))).toEqual([]);
    expect(listing.filter((line) => /\.\/(\.profile|\.kconfig|image\/)/.test(line))).toEqual([]);
    const motd = String((await execa('tar', ['-xJOf', image, './etc/motd'], { stripFinalNewline: false })).stdout);
    expect(motd).toBe(fs.readFileSync(path.join(REPO, 'descriptions/debian-minimal/root/etc/motd'), 'utf8'));
    const packages = fs.readFileSync(path.join(target, 'debian-minimal.x86_64-1.0.0.packages'), 'utf8');
    expect(packages).toMatch(/^less\|None\|[^|]+\|None\|amd64\|None\|None$/m);
    expect(JSON.parse(fs.readFileSync(path.join(target, 'kiwi.result.json'), 'utf8')).result_files.root_archive.filename).toBe(image);
    expect(fs.readFileSync(path.join(target, 'build/image-root.log'), 'utf8')).toContain('configuring debian-minimal-1.0.0 (tbz)');
  });

  it('builds debian-container as an OCI archive that skopeo and umoci read, reusing the bootstrap layer', { timeout: LONG }, async () => {
    const target = tempDir('kiwi-build-oci-');
    const done = await build(path.join(REPO, 'descriptions/debian-container'), target);
    expect(done.exitCode, done.stderr).toBe(0);
    // Same repositories and bootstrap packages as debian-minimal: the layer of the test above.
    expect(done.json?.bootstrap).toBe('cached');
    // And apt's index files of that build: used as they are while the mirror serves the
    // same InRelease files; if one changed meanwhile (bookworm-security does, now and then),
    // apt-get update revalidated them and fetched no Packages file of bookworm main (which
    // changes only with a point release).
    const log = fs.readFileSync(path.join(target, 'build/image-root.log'), 'utf8');
    expect(log).toMatch(/apt index files: [1-9]\d* from the cache/);
    if (!done.stderr.includes("kiwi: sources: the index files of an earlier build: every repository's InRelease is unchanged")) {
      expect(log).toMatch(/apt-get update: the saved index files are not current \(bookworm(-security)? changed \(its InRelease differs\)\)/);
      expect(log).toMatch(/ http:\/\/deb\.debian\.org\/debian bookworm InRelease/);
      expect(log).not.toMatch(/Get:\d+ http:\/\/deb\.debian\.org\/debian bookworm\/main amd64 Packages/);
    }
    // This description's config.sh empties /var/lib/apt/lists; what the next build gets was saved before it ran.
    const saved = fs.readdirSync(path.join(CACHE, 'apt', 'lists')).filter((name) => /^[0-9a-f]{32}$/.test(name));
    expect(saved.map((key) => fs.readdirSync(path.join(CACHE, 'apt', 'lists', key)).filter((name) => name.endsWith('_main_binary-amd64_Packages')).length)).toContain(2);
    const image = path.join(target, 'debian-container.x86_64-1.0.0.oci.tar.xz');
    expect(done.json?.references).toEqual(['debian-container:1.0.0', 'debian-container:latest']);
    const inspect = JSON.parse(String((await execa('skopeo', ['inspect', `oci-archive:${image}`])).stdout));
    expect(inspect.Architecture).toBe('amd64');
    expect(inspect.Os).toBe('linux');
    expect(inspect.Labels['org.opencontainers.image.title']).toBe('debian-container');
    const config = JSON.parse(String((await execa('skopeo', ['inspect', '--config', `oci-archive:${image}`])).stdout));
    expect(config.author).toBe('kiwi <kiwi@example.org>');
    expect(config.config.Cmd).toEqual(['/bin/bash']);
    expect(config.config.WorkingDir).toBe('/root');
    expect(config.config.Env).toContain('DEBIAN_FRONTEND=noninteractive');
    expect(config.history[0]).toMatchObject({ created_by: 'kiwi build', author: 'kiwi', comment: 'Debian 12 base layer' });
    const layout = tempDir('kiwi-oci-layout-');
    await execa('bash', ['-o', 'pipefail', '-c', 'xz -dc "$1" | tar -C "$2" -xf -', 'x', image, layout]);
    const bundle = path.join(tempDir('kiwi-oci-bundle-'), 'b');
    await execa('umoci', ['unpack', '--image', `${layout}:debian-container:1.0.0`, bundle]);
    const rootfs = path.join(bundle, 'rootfs');
    expect(fs.existsSync(path.join(rootfs, 'usr/bin/less'))).toBe(true);
    expect(fs.existsSync(path.join(rootfs, 'etc/motd'))).toBe(true);
    expect(fs.existsSync(path.join(rootfs, 'sbin/mke2fs'))).toBe(false);
    expect(fs.existsSync(path.join(rootfs, '.profile'))).toBe(false);
    fs.rmSync(layout, { recursive: true, force: true });
    fs.rmSync(path.dirname(bundle), { recursive: true, force: true });
  });

  it('installs from a local repository (this://); a rebuild reuses the packages layer, a new version in the repository makes a new one', { timeout: LONG }, async () => {
    const { dir: description, repo } = await localRepoDescription();
    const helloVersion = async (target: string) => String((await execa('tar', ['-xJOf', path.join(target, 'debian-minimal.x86_64-1.0.0.tar.xz'), './usr/share/kiwi-hello/version'])).stdout);
    const installing = `kiwi: packages: ${CONTAINER_STEPS.packages}`;
    const reused = /kiwi: packages: the packages layer of an earlier build \(([0-9a-f]{32})\/[0-9a-f]{32}\)/;
    const first = tempDir('kiwi-build-repo-');
    const built = await build(description, first);
    expect(built.exitCode, built.stderr).toBe(0);
    expect(built.stderr).not.toMatch(reused);
    expect(built.stderr).toContain(installing);
    expect(await helloVersion(first)).toBe('1');
    // Downloaded packages no build used for a while leave the shared cache after a build.
    const archives = path.join(CACHE, 'apt', 'archives');
    const plantDeb = (name: string, daysAgo: number) => {
      const file = path.join(archives, name);
      fs.writeFileSync(file, 'not a real package');
      const then = new Date(Date.now() - daysAgo * 24 * 60 * 60_000);
      fs.utimesSync(file, then, then);
      return file;
    };
    const stale = plantDeb('kiwi-test-stale_1.0_all.deb', UNUSED_DOWNLOAD_DAYS + 5);
    const recent = plantDeb('kiwi-test-recent_1.0_all.deb', UNUSED_DOWNLOAD_DAYS - 5);
    const again = tempDir('kiwi-build-repo-');
    const rebuilt = await build(description, again);
    expect(rebuilt.exitCode, rebuilt.stderr).toBe(0);
    expect(fs.existsSync(stale)).toBe(false);
    expect(fs.existsSync(recent)).toBe(true);
    fs.rmSync(recent);
    const lineage = reused.exec(rebuilt.stderr)?.[1];
    expect(lineage, rebuilt.stderr).toBeDefined();
    expect(rebuilt.stderr).not.toContain(installing);
    expect(await helloVersion(again)).toBe('1');
    // The layers' files archive to the same bytes ahead of what this build changed: the
    // compression takes every chunk before the changed entries from its cache.
    const xz = /kiwi: xz: (\d+) of (\d+) chunks compressed, (\d+) from the cache \(the last (\d+) hold what the build changed\)/.exec(rebuilt.stderr);
    expect(xz, rebuilt.stderr).not.toBeNull();
    const [compressed, chunks, changed] = [xz![1], xz![2], xz![4]].map(Number) as [number, number, number];
    expect(compressed).toBeGreaterThan(0);
    expect(compressed).toBeLessThanOrEqual(changed);
    expect(chunks - changed).toBeGreaterThan(20);
    // The same tree from the layer as from the install: every entry's type, mode, owner and name (sizes and times aside: logs and caches differ).
    const entries = async (target: string) => String((await execa('tar', ['-tvJf', path.join(target, 'debian-minimal.x86_64-1.0.0.tar.xz')])).stdout).split('\n').map((line) => line.split(/\s+/).filter((_, index) => index < 2 || index > 4).join(' ')).sort();
    expect(await entries(again)).toEqual(await entries(first));
    await publishHello(repo, '2');
    // The next install marks the .deb of each package in the image as used: an old one of dash is kept.
    const dash = /^dash\|None\|([^|]+)\|None\|([^|]+)\|/m.exec(fs.readFileSync(path.join(again, 'debian-minimal.x86_64-1.0.0.packages'), 'utf8'));
    expect(dash).not.toBeNull();
    const dashDeb = plantDeb(`dash_${dash![1]!.replaceAll(':', '%3a')}_${dash![2]}.deb`, UNUSED_DOWNLOAD_DAYS + 5);
    const updated = tempDir('kiwi-build-repo-');
    const next = await build(description, updated);
    expect(next.exitCode, next.stderr).toBe(0);
    expect(Date.now() - fs.statSync(dashDeb).mtimeMs).toBeLessThan(60 * 60_000);
    fs.rmSync(dashDeb);
    expect(next.stderr).not.toMatch(reused);
    expect(await helloVersion(updated)).toBe('2');
    expect(fs.readFileSync(path.join(updated, 'debian-minimal.x86_64-1.0.0.packages'), 'utf8')).toMatch(/^kiwi-hello\|None\|2\|None\|all\|/m);
    // The lineage keeps only its newest layer once no build uses the old one.
    expect(fs.readdirSync(path.join(CACHE, 'packages', lineage!))).toHaveLength(1);
  });

  it('a failing config.sh: exit 1 naming the step, its exit code and the log tail; unrelated files stay', { timeout: LONG }, async () => {
    const target = tempDir('kiwi-build-fail-');
    fs.writeFileSync(path.join(target, 'unrelated.txt'), 'mine');
    const done = await build(path.join(REPO, 'test/fixtures/build/failing-config'), target);
    expect(done.exitCode).toBe(1);
    expect(done.stderr).toContain('error: build step config failed with exit code 7');
    expect(done.stderr).toContain('  | about to fail on purpose');
    expect(done.stderr).toContain('-----> configuring failing-config');
    expect(done.stderr).toContain(`hint: the full log is ${path.join(target, 'build/image-root.log')}`);
    expect(done.json).toMatchObject({ type: 'error', exitCode: 1 });
    expect(fs.readFileSync(path.join(target, 'unrelated.txt'), 'utf8')).toBe('mine');
    expect(fs.readdirSync(target).sort()).toEqual(['build', 'unrelated.txt']);
    // Nothing left behind: no build tree, no mounts of the build.
    expect(fs.readdirSync(path.join(CACHE, 'builds'))).toEqual([]);
    expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(CACHE);
  });
});
