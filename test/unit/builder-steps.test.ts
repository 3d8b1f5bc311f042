import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadImageModel } from '../../src/builder/description/load.js';
import type { User } from '../../src/builder/description/model.js';
import { buildCachePaths, buildCacheRoot, bootstrapLayerPaths } from '../../src/builder/paths.js';
import { aptListsCache, restoreAptLists, saveAptLists, UNUSED_APT_LISTS } from '../../src/builder/steps/apt-lists.js';
import { makeAptListsLayer } from '../../src/builder/steps/apt-lists-layer.js';
import { containerSourcesList, imageSourcesList } from '../../src/builder/steps/apt-sources.js';
import { bootstrapInputs, bootstrapKey, mmdebstrapArgv } from '../../src/builder/steps/bootstrap-plan.js';
import { driverScripts, STEP_MARKER } from '../../src/builder/steps/driver-script.js';
import { KCONFIG } from '../../src/builder/steps/kconfig.js';
import { usersScript } from '../../src/builder/steps/users.js';
import { tempDir } from '../fixtures/temp-dir.js';

const examples = resolve(__dirname, '../../descriptions');
const load = (name: string, addPackages: string[] = []) =>
  loadImageModel({ descriptionDir: join(examples, name), kiwiFile: undefined, arch: 'x86_64', profiles: [], type: undefined, setRepo: undefined, addRepos: [], addPackages, deletePackages: [] });

describe('bootstrap layer cache key', () => {
  it('is the same for descriptions with the same repositories, bootstrap packages and arch', () => {
    const minimal = bootstrapInputs(load('debian-minimal'));
    expect(bootstrapKey(minimal)).toBe(bootstrapKey(bootstrapInputs(load('debian-container'))));
    expect(bootstrapKey(minimal)).toMatch(/^[0-9a-f]{32}$/);
  });
  it('bootstraps from the repositories marked use_for_bootstrap (KIWI\'s attribute), from all when none is', () => {
    const dir = tempDir();
    const config = readFileSync(join(examples, 'debian-minimal', 'config.kiwi'), 'utf8');
    writeFileSync(join(dir, 'config.kiwi'), config.replace(/<repository /, '<repository use_for_bootstrap="true" '));
    const marked = loadImageModel({ descriptionDir: dir, kiwiFile: undefined, arch: 'x86_64', profiles: [], type: undefined, setRepo: undefined, addRepos: [], addPackages: [], deletePackages: [] });
    expect(marked.repositories.map((repo) => repo.useForBootstrap)).toEqual([true, false]);
    expect(bootstrapInputs(marked).sources).toEqual(bootstrapInputs(load('debian-minimal')).sources.slice(0, 1));
    expect(bootstrapInputs(load('debian-minimal')).sources).toHaveLength(2);
  });
  it('does not depend on image packages, and changes with a bootstrap package, the arch or excludedocs', () => {
    const base = bootstrapInputs(load('debian-minimal'));
    expect(bootstrapKey(bootstrapInputs(load('debian-minimal', ['vim'])))).toBe(bootstrapKey(base));
    expect(bootstrapKey({ ...base, packages: [...base.packages, 'gnupg'] })).not.toBe(bootstrapKey(base));
    expect(bootstrapKey({ ...base, arch: 'arm64' })).not.toBe(bootstrapKey(base));
    expect(bootstrapKey({ ...base, excludeDocs: false })).not.toBe(bootstrapKey(base));
  });
  it('mmdebstrap runs in a private mount namespace with the sources, packages and doc excludes', () => {
    const argv = mmdebstrapArgv(bootstrapInputs(load('debian-minimal')), '/c/root', { foreign: false });
    expect(argv.slice(0, 9)).toEqual(['unshare', '--mount', '--propagation', 'private', '--', 'mmdebstrap', '--mode=root', '--variant=minbase', '--architectures=amd64']);
    expect(argv).toContain('--include=ca-certificates');
    expect(argv).toContain('--dpkgopt=path-exclude=/usr/share/doc/*');
    // The layer keeps its apt lists: the build's apt-get update then only revalidates them.
    expect(argv).toContain('--skip=cleanup/apt/lists');
    // apt's and dpkg's lines reach the build log (without it mmdebstrap prints only its own).
    expect(argv).toContain('--verbose');
    expect(argv.slice(-4)).toEqual(['bookworm', '/c/root', 'deb http://deb.debian.org/debian bookworm main', 'deb http://deb.debian.org/debian-security bookworm-security main']);
    expect(argv).not.toContain('--skip=check/qemu');
  });
  it('a foreign arch skips mmdebstrap\'s arch-test check: the build has checked its binfmt entry', () => {
    const argv = mmdebstrapArgv({ ...bootstrapInputs(load('debian-minimal')), arch: 'arm64' }, '/c/root', { foreign: true });
    expect(argv).toContain('--architectures=arm64');
    expect(argv).toContain('--skip=check/qemu');
  });
});

describe('cache paths', () => {
  it('$KIWI_BUILD_CACHE_DIR, else /var/cache/kiwi as root, else the user cache', () => {
    expect(buildCacheRoot({ KIWI_BUILD_CACHE_DIR: '/x/c' }, 1000)).toBe('/x/c');
    expect(buildCacheRoot({}, 0)).toBe('/var/cache/kiwi');
    expect(buildCacheRoot({ XDG_CACHE_HOME: '/h/.cache' }, 1000)).toBe('/h/.cache/kiwi/build');
    const layer = bootstrapLayerPaths(buildCachePaths('/c'), 'k1');
    expect(layer).toEqual({ dir: '/c/bootstrap/k1', root: '/c/bootstrap/k1/root', meta: '/c/bootstrap/k1/layer.json', lock: '/c/bootstrap/k1.lock' });
  });
});

describe('apt sources', () => {
  it('the image keeps only imageinclude repositories; the container sees every one', () => {
    const model = load('debian-minimal');
    expect(containerSourcesList(model.repositories)).toBe('deb http://deb.debian.org/debian bookworm main\ndeb http://deb.debian.org/debian-security bookworm-security main\n');
    expect(imageSourcesList(model.repositories)).toBe('');
    expect(imageSourcesList(model.repositories.map((repo) => ({ ...repo, imageInclude: true, repositoryGpgCheck: false })))).toContain('deb [trusted=yes] http://deb.debian.org/debian bookworm main\n');
  });

  it('a local repository is copied from its bind path (apt\'s copy: method), so its packages land in the download cache', () => {
    const [remote] = load('debian-minimal').repositories;
    const local = { ...remote!, alias: 'mine', uri: 'file:///srv/repo', localPath: '/srv/repo', distribution: undefined, components: [], repositoryGpgCheck: false };
    expect(containerSourcesList([remote!, local])).toBe('deb http://deb.debian.org/debian bookworm main\ndeb [trusted=yes] copy:///tmp/kiwi-repos/1-mine ./\n');
  });
});

describe('apt index files kept between builds', () => {
  const indexFile = (dir: string, name: string, text: string, mtime: Date) => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, name), text);
    utimesSync(join(dir, name), mtime, mtime);
  };
  const lastWeek = new Date('2026-11-17T10:00:00Z');

  it('one cache entry per sources and arch', () => {
    const model = load('debian-minimal');
    const entry = aptListsCache('/c/apt/lists', model);
    expect(entry.saved).toMatch(/^\/c\/apt\/lists\/[0-9a-f]{32}$/);
    expect(entry.lock).toBe(`${entry.saved}.lock`);
    expect(aptListsCache('/c/apt/lists', { ...model, debianArch: 'arm64' }).saved).not.toBe(entry.saved);
    expect(aptListsCache('/c/apt/lists', { ...model, repositories: model.repositories.slice(1) }).saved).not.toBe(entry.saved);
    expect(aptListsCache('/c/apt/lists', load('debian-minimal', ['vim'])).saved).toBe(entry.saved);
  });

  it('a build starts with links to the last build\'s files, with their times (for If-Modified-Since); a finished build replaces them whole', async () => {
    const dir = tempDir('kiwi-apt-lists-');
    const cache = aptListsCache(join(dir, 'cache'), load('debian-minimal'));
    const first = join(dir, 'build1', 'apt-lists');
    expect(await restoreAptLists(cache, first)).toBe(0);
    expect(readdirSync(first)).toEqual([]);
    // What the container's sources step left after apt-get update.
    indexFile(first, 'deb_InRelease', 'first', lastWeek);
    indexFile(first, 'deb_Packages', 'packages', lastWeek);
    await saveAptLists(cache, first);
    expect(existsSync(first)).toBe(false);

    const second = join(dir, 'build2', 'apt-lists');
    expect(await restoreAptLists(cache, second)).toBe(2);
    expect(readFileSync(join(second, 'deb_InRelease'), 'utf8')).toBe('first');
    expect(statSync(join(second, 'deb_Packages')).mtime).toEqual(lastWeek);
    expect(statSync(join(second, 'deb_Packages')).ino).toBe(statSync(join(cache.saved, 'deb_Packages')).ino);
    // The second build's update replaced one file and dropped the other.
    rmSync(second, { recursive: true });
    indexFile(second, 'deb_InRelease', 'second', new Date('2026-11-24T06:00:00Z'));
    await saveAptLists(cache, second);
    expect(readdirSync(cache.saved)).toEqual(['deb_InRelease']);
    expect(readFileSync(join(cache.saved, 'deb_InRelease'), 'utf8')).toBe('second');
    // No lock and no replaced copy left behind.
    expect(readdirSync(join(dir, 'cache'))).toEqual([basename(cache.saved)]);
  });

  it('keeps the index files of the UNUSED_APT_LISTS most recently saved other sources, not more', async () => {
    const root = join(tempDir('kiwi-apt-lists-'), 'cache');
    const others = Array.from({ length: UNUSED_APT_LISTS + 3 }, (_, index) => `${index}`.padStart(32, '0'));
    others.forEach((key, index) => {
      indexFile(join(root, key), 'deb_InRelease', key, lastWeek);
      const savedAt = new Date(Date.now() - (index + 1) * 60_000);
      utimesSync(join(root, key), savedAt, savedAt);
    });
    const cache = aptListsCache(root, load('debian-minimal'));
    const build = join(root, '..', 'build', 'apt-lists');
    indexFile(build, 'deb_InRelease', 'now', lastWeek);
    await saveAptLists(cache, build);
    expect(readdirSync(root).sort()).toEqual([...others.slice(0, UNUSED_APT_LISTS), basename(cache.saved)].sort());
  });
});

describe('the driver scripts', () => {
  const files = { postBootstrap: false, config: true, images: false, rootDir: true, rootTar: false, profileDirs: [] };
  const steps = (script: string) => [...script.matchAll(/^step ([a-z-]+) /gm)].map((match) => match[1]);

  it('are valid bash that run the steps in KIWI\'s order between markers, in three phases', () => {
    const scripts = driverScripts(load('debian-container'), files);
    const dir = tempDir('kiwi-driver-');
    for (const [phase, script] of Object.entries(scripts)) {
      writeFileSync(join(dir, `${phase}.sh`), script);
      execFileSync('bash', ['-n', join(dir, `${phase}.sh`)]);
    }
    expect(steps(scripts.update)).toEqual(['sources']);
    expect(steps(scripts.packages)).toEqual(['packages']);
    expect(steps(scripts.image)).toEqual(['overlay', 'setup', 'config', 'uninstall', 'clean']);
    // Downloads take turns on the shared download cache; the upgrade and the install read it without a lock.
    const aptLines = scripts.packages.split('\n').filter((line) => line.includes('apt-get -y'));
    expect(aptLines).toHaveLength(4);
    expect(aptLines[0]).toMatch(/^\s*flock \/var\/cache\/apt\/archives\/\.kiwi-lock apt-get -y --no-install-recommends .* upgrade --with-new-pkgs --download-only$/);
    expect(aptLines[1]).toMatch(/^\s*flock \/var\/cache\/apt\/archives\/\.kiwi-lock apt-get -y .* install .*'less'.* --download-only$/);
    expect(aptLines[2]).toMatch(/^\s*INITRD=No apt-get -y .* upgrade --with-new-pkgs --no-download -o Debug::NoLocking=true$/);
    expect(aptLines[3]).toMatch(/^\s*INITRD=No apt-get -y .* install .* --no-download -o Debug::NoLocking=true$/);
    // The kernel's own initramfs hook is held back for one update-initramfs after the
    // install, and the /initrd.img link it would have made is made after it.
    const install = scripts.packages.indexOf('INITRD=No apt-get -y');
    expect(scripts.packages.indexOf('update-initramfs -c -k')).toBeGreaterThan(install);
    expect(scripts.packages.indexOf('linux-update-symlinks upgrade')).toBeGreaterThan(scripts.packages.indexOf('update-initramfs -c -k'));
    // The packages layer keeps no inputs; the image phase copies them in again. The index
    // files are a layer of each container (apt-lists-layer.ts), never copied.
    expect(scripts.packages).toMatch(/^after_steps\(\) \{\n\s+rm -rf \/image \/\.profile \/\.kconfig$/m);
    expect(scripts.image).toMatch(/^before_steps\(\) \{\n\s+cp \/tmp\/kiwi-input\/sources\.list \/etc\/apt\/sources\.list$/m);
    for (const script of Object.values(scripts)) expect(script).not.toContain('-exec cp -p -t /var/lib/apt/lists/');
    expect(scripts.image).toContain('bash /image/config.sh');
    expect(scripts.image).toContain("dpkg --purge --force-depends --force-remove-essential 'e2fsprogs'");
    expect(scripts.image).toContain('rm -rf /image /.profile /.kconfig');
    expect(scripts.image).toContain('rm -rf /var/lib/apt/lists/*');
    // This build's index files go out after the update.
    const update = scripts.update.indexOf('apt-get -o Acquire::Languages=none update');
    expect(scripts.update.indexOf('-exec cp -p -t /tmp/kiwi-apt-lists/ {} +')).toBeGreaterThan(update);
    expect(STEP_MARKER.exec('::kiwi-step config failed 7')?.slice(1)).toEqual(['config', 'failed', '7']);
  });

  it('leave out steps with nothing to do and add the scripts that exist', () => {
    const scripts = driverScripts(load('debian-minimal'), { ...files, config: false, rootDir: false, postBootstrap: true, images: true });
    expect(steps(scripts.packages)).toEqual(['post-bootstrap', 'packages']);
    expect(steps(scripts.image)).toEqual(['setup', 'images', 'clean']);
  });

  it('stop at an unmarked command that fails, with its exit code and no step marker', () => {
    const dir = tempDir('kiwi-driver-');
    // The image phase's first command copies the build's sources.list in: with no inputs it fails.
    const script = driverScripts(load('debian-minimal'), files).image.replace(/\/tmp\/kiwi-input\//g, `${dir}/missing/`).replace(/\/etc\/apt\/sources\.list/g, `${dir}/sources.list`);
    writeFileSync(join(dir, 'image.sh'), script);
    const run = spawnSync('bash', [join(dir, 'image.sh')], { encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stdout).not.toContain('::kiwi-step');
    expect(existsSync(join(dir, 'sources.list'))).toBe(false);
  });
});

describe('users and groups', () => {
  const user = (over: Partial<User>): User => ({ xmlPath: '/image/users[1]/user[1]', name: 'root', groups: [], password: '', passwordFormat: 'encrypted', home: undefined, shell: undefined, id: undefined, realName: undefined, ...over });

  it('creates missing groups, modifies an existing user, creates a new one, sets plain and encrypted passwords', () => {
    const script = usersScript([
      user({ name: 'root', password: 'linux', passwordFormat: 'plain', home: '/root', groups: ['root'] }),
      user({ name: 'tux', password: '$6$salt$hash', groups: ['users', 'audio'], shell: '/bin/bash', id: 1000, realName: "Tux O'Penguin" }),
    ]);
    expect(script).toContain("getent group 'root' >/dev/null || groupadd 'root'");
    expect(script).toContain("getent group 'audio' >/dev/null || groupadd 'audio'");
    expect(script).toContain("usermod -d '/root' -g 'root' 'root'");
    expect(script).toContain("useradd -m -s '/bin/bash' -u 1000 -c 'Tux O'\\''Penguin' -g 'users' -G 'audio' 'tux'");
    expect(script).toContain("printf '%s\\n' 'root:linux' | chpasswd");
    expect(script).toContain("usermod -p '$6$salt$hash' 'tux'");
    execFileSync('bash', ['-n', '-c', script]);
  });
});

describe('/.kconfig', () => {
  const run = (body: string) => execFileSync('bash', ['-c', `${KCONFIG}\n${body}`], { encoding: 'utf8' });

  it('is valid bash with KIWI\'s common helpers defined', () => {
    const names = ['Echo', 'Debug', 'Rm', 'baseCleanMount', 'baseMount', 'baseSetRunlevel', 'baseInsertService', 'baseRemoveService', 'baseService', 'suseInsertService', 'suseRemoveService', 'suseService', 'suseImportBuildKey', 'baseQuoteFile', 'baseUpdateSysConfig', 'baseStripLocales', 'baseGetProfilesUsed'];
    expect(run(names.map((name) => `declare -F ${name} >/dev/null || echo missing ${name}`).join('\n'))).toBe('');
  });

  it('Echo prints with KIWI\'s prefixes; Debug only with DEBUG=1; mount helpers are no-ops that succeed', () => {
    expect(run('Echo hello; Echo -b world; Debug hidden; DEBUG=1 Debug shown; baseCleanMount && echo ok')).toBe('-----> hello\n       world\n+++++> (caller:main) shown\nok\n');
  });

  it('baseSetRunlevel links the systemd default target; service helpers do nothing for a missing service', () => {
    expect(run('baseInsertService no-such-service && suseRemoveService no-such-service && echo ok')).toBe('ok\n');
    expect(run('kiwi_profiles=a,b; baseGetProfilesUsed')).toBe('a,b\n');
  });

  it('baseQuoteFile makes a file of assignments sourceable', () => {
    const dir = tempDir('kiwi-kconfig-');
    writeFileSync(join(dir, 'conf'), '# comment\nA="x y"\n\nB=it\'s\n');
    expect(run(`baseQuoteFile ${dir}/conf; . ${dir}/conf; echo "$A|$B"`)).toBe("x y|it's\n");
  });
});

describe('the index files as a layer of each build container', () => {
  it('hard links at var/lib/apt/lists, under directories as the layers below have them', () => {
    const dir = tempDir('kiwi-lists-layer-');
    const lists = join(dir, 'apt-lists');
    mkdirSync(lists);
    writeFileSync(join(lists, 'deb_InRelease'), 'signed');
    const [packages, bootstrap] = [join(dir, 'packages'), join(dir, 'bootstrap')];
    mkdirSync(join(bootstrap, 'var/lib/apt/lists'), { recursive: true });
    mkdirSync(join(packages, 'var/lib'), { recursive: true });
    const times = { var: new Date('2026-01-01T00:00:00Z'), lib: new Date('2026-02-01T00:00:00Z'), apt: new Date('2026-03-01T00:00:00Z') };
    chmodSync(join(packages, 'var'), 0o750);
    utimesSync(join(packages, 'var/lib'), times.lib, times.lib);
    utimesSync(join(packages, 'var'), times.var, times.var);
    utimesSync(join(bootstrap, 'var/lib/apt'), times.apt, times.apt);
    const layer = join(dir, 'apt-lists-layer');
    makeAptListsLayer(layer, lists, [packages, bootstrap]);
    expect(statSync(join(layer, 'var/lib/apt/lists/deb_InRelease')).ino).toBe(statSync(join(lists, 'deb_InRelease')).ino);
    expect(readdirSync(layer)).toEqual(['var']);
    // The topmost layer that has each directory decides its mode and times.
    expect(statSync(join(layer, 'var')).mode & 0o7777).toBe(0o750);
    expect(statSync(join(layer, 'var')).mtime).toEqual(times.var);
    expect(statSync(join(layer, 'var/lib')).mtime).toEqual(times.lib);
    expect(statSync(join(layer, 'var/lib/apt')).mtime).toEqual(times.apt);
    expect(statSync(join(layer, 'var/lib/apt/lists')).mode & 0o7777).toBe(statSync(join(bootstrap, 'var/lib/apt/lists')).mode & 0o7777);
    // Made again for the next phase, from the build's files as they are then.
    rmSync(join(lists, 'deb_InRelease'));
    writeFileSync(join(lists, 'deb_Packages'), 'new');
    makeAptListsLayer(layer, lists, [packages, bootstrap]);
    expect(readdirSync(join(layer, 'var/lib/apt/lists'))).toEqual(['deb_Packages']);
  });

  it('refuses a tree whose /var/lib/apt is not a directory', () => {
    const dir = tempDir('kiwi-lists-layer-');
    mkdirSync(join(dir, 'lists'));
    mkdirSync(join(dir, 'root/var/lib'), { recursive: true });
    symlinkSync('/elsewhere', join(dir, 'root/var/lib/apt'));
    expect(() => makeAptListsLayer(join(dir, 'layer'), join(dir, 'lists'), [join(dir, 'root')])).toThrow(/\/var\/lib\/apt is not a directory in the layer .*\/root: apt keeps its index files/);
  });
});
