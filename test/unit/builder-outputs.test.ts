import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ContainerConfig } from '../../src/builder/description/model.js';
import { resultNames } from '../../src/builder/outputs/naming.js';
import { creationTime, DEFAULT_PATH, imageReferences, ociImageConfig } from '../../src/builder/outputs/oci-config.js';
import { memberDataOffset } from '../../src/builder/outputs/oci-archive.js';
import { dpkgQueryArgv, formatPackageList } from '../../src/builder/outputs/packages-list.js';
import { rootTarArgv } from '../../src/builder/outputs/root-tar.js';
import { changedEntriesOffset, treeExportArgv } from '../../src/builder/outputs/tree-export.js';
import { removeTempFiles, tempNameFor } from '../../src/builder/outputs/write-atomic.js';
import { isAlive, processIdentity } from '../../src/common/process-identity.js';
import { tempDir } from '../fixtures/temp-dir.js';

const model = (image: 'tbz' | 'oci' | 'docker') => ({ name: 'debian-minimal', arch: 'x86_64' as const, preferences: { version: '1.0.0' }, type: { image } });

describe('result file names follow KIWI', () => {
  it('NAME.ARCH-VERSION with the type suffix, .packages, kiwi.result.json, build/image-root.log', () => {
    expect(resultNames(model('tbz') as never)).toEqual({
      image: 'debian-minimal.x86_64-1.0.0.tar.xz',
      packages: 'debian-minimal.x86_64-1.0.0.packages',
      result: 'kiwi.result.json',
      log: 'build/image-root.log',
    });
    expect(resultNames(model('oci') as never).image).toBe('debian-minimal.x86_64-1.0.0.oci.tar.xz');
    expect(resultNames(model('docker') as never).image).toBe('debian-minimal.x86_64-1.0.0.docker.tar.xz');
  });
});

describe('.packages', () => {
  it('queries the tree\'s dpkg database in KIWI\'s name|None|version|None|arch|None|None format', () => {
    expect(dpkgQueryArgv('/b/root')).toEqual(['dpkg-query', '--admindir=/b/root/var/lib/dpkg', '-W', '-f=${Package}|None|${Version}|None|${Architecture}|None|None\\n']);
  });
  it('sorts the lines, drops blanks and ends with a newline', () => {
    expect(formatPackageList('zlib1g|None|1:1.2.13|None|amd64|None|None\nbash|None|5.2|None|amd64|None|None\n\n')).toBe(
      'bash|None|5.2|None|amd64|None|None\nzlib1g|None|1:1.2.13|None|amd64|None|None\n',
    );
    expect(formatPackageList('')).toBe('');
  });
});

const container = (over: Partial<ContainerConfig> = {}): ContainerConfig => ({
  xmlPath: '/image/preferences[1]/type[1]/containerconfig[1]',
  name: 'debian-container',
  tag: '1.0.0',
  additionalNames: [],
  maintainer: undefined,
  user: undefined,
  workingDir: undefined,
  entrypoint: undefined,
  cmd: undefined,
  environment: [],
  labels: [],
  exposedPorts: [],
  volumes: [],
  history: { createdBy: 'KIWI', author: undefined, comment: undefined },
  ...over,
});

describe('OCI image config from <containerconfig>', () => {
  const input = { debianArch: 'amd64', diffIds: ['sha256:abc'], created: '2024-01-01T00:00:00Z' };

  it('maps every field: author, user, workingdir, entrypoint, cmd, env, labels, ports, volumes, history', () => {
    const config = ociImageConfig(
      container({
        maintainer: 'kiwi <k@example.org>',
        user: 'app',
        workingDir: '/srv',
        entrypoint: ['/usr/bin/app', '--serve'],
        cmd: ['--port', '80'],
        environment: [{ name: 'PATH', value: '/usr/bin' }, { name: 'LANG', value: 'C.UTF-8' }],
        labels: [{ name: 'org.example.a', value: '1' }],
        exposedPorts: ['80', '53/udp'],
        volumes: ['/data'],
        history: { createdBy: 'kiwi build', author: 'someone', comment: 'base' },
      }),
      input,
    );
    expect(config).toEqual({
      created: '2024-01-01T00:00:00Z',
      author: 'kiwi <k@example.org>',
      architecture: 'amd64',
      os: 'linux',
      config: {
        User: 'app',
        WorkingDir: '/srv',
        Entrypoint: ['/usr/bin/app', '--serve'],
        Cmd: ['--port', '80'],
        Env: ['PATH=/usr/bin', 'LANG=C.UTF-8'],
        Labels: { 'org.example.a': '1' },
        ExposedPorts: { '80/tcp': {}, '53/udp': {} },
        Volumes: { '/data': {} },
      },
      rootfs: { type: 'layers', diff_ids: ['sha256:abc'] },
      history: [{ created: '2024-01-01T00:00:00Z', created_by: 'kiwi build', author: 'someone', comment: 'base' }],
    });
  });

  it('defaults: PATH in Env and /bin/bash as Cmd when neither entrypoint nor subcommand is set (KIWI\'s default)', () => {
    const config = ociImageConfig(container(), input);
    expect(config.config).toEqual({ Env: [DEFAULT_PATH], Cmd: ['/bin/bash'] });
    expect(config.history).toEqual([{ created: input.created, created_by: 'KIWI' }]);
  });

  it('a cleared entrypoint or subcommand ([]) is left out and suppresses the default Cmd', () => {
    expect(ociImageConfig(container({ entrypoint: [] }), input).config).toEqual({ Env: [DEFAULT_PATH] });
  });

  it('references: name:tag first, additionalnames with the missing part filled from name and tag', () => {
    expect(imageReferences(container({ additionalNames: [':latest', 'other', 'other:2', 'debian-container:1.0.0'] }))).toEqual([
      'debian-container:1.0.0',
      'debian-container:latest',
      'other:1.0.0',
      'other:2',
    ]);
  });

  it('creation time from SOURCE_DATE_EPOCH, else now, without milliseconds', () => {
    expect(creationTime({ SOURCE_DATE_EPOCH: '0' })).toBe('1970-01-01T00:00:00Z');
    expect(creationTime({}, new Date('2024-05-06T07:08:09.123Z'))).toBe('2024-05-06T07:08:09Z');
  });
});

/** Names (NUL-separated) for rootTarArgv, and where its index goes, in a new temp dir. */
function tarOrder(names: string[]): { names: string; index: string } {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'names'), names.map((name) => `${name}\0`).join(''));
  return { names: path.join(dir, 'names'), index: path.join(dir, 'index') };
}

describe('root archive commands', () => {
  it('tar adds the listed names alone, in their order, without the excludes, and indexes where each begins', () => {
    const tree = tempDir();
    fs.mkdirSync(path.join(tree, 'etc'));
    fs.writeFileSync(path.join(tree, 'etc', 'motd'), 'hello\n');
    fs.mkdirSync(path.join(tree, 'tmp'));
    fs.writeFileSync(path.join(tree, 'tmp', 'scratch'), 'x');
    const order = tarOrder(['./etc/motd', './tmp', './tmp/scratch', '.', './etc']);
    const [command, ...args] = rootTarArgv(tree, ['./tmp/*'], order);
    const archive = path.join(tempDir(), 'root.tar');
    fs.writeFileSync(archive, execFileSync(command!, args, { maxBuffer: 4 << 20 }));
    expect(execFileSync('tar', ['-tf', archive], { encoding: 'utf8' }).split('\n')).toEqual(['./etc/motd', './tmp/', './', './etc/', '']);
    expect(fs.readFileSync(order.index, 'utf8')).toMatch(/^block 0: \.\/etc\/motd\nblock \d+: \.\/tmp\/\nblock \d+: \.\/\nblock \d+: \.\/etc\/\n$/);
  });

  it('the same tree gives the same tar after its files were read', async () => {
    const tree = tempDir();
    fs.mkdirSync(path.join(tree, 'etc'));
    fs.writeFileSync(path.join(tree, 'etc', 'motd'), 'hello\n');
    const order = tarOrder(['.', './etc', './etc/motd']);
    const tar = (): Buffer => execFileSync(rootTarArgv(tree, [], order)[0]!, rootTarArgv(tree, [], order).slice(1));
    const first = tar();
    // A new access time (and with it a new change time), the modification time kept to the nanosecond.
    execFileSync('touch', ['-a', '-d', '1 hour ago', path.join(tree, 'etc', 'motd')]);
    fs.chmodSync(path.join(tree, 'etc', 'motd'), 0o644);
    expect(tar().equals(first)).toBe(true);
    // A pax archive (--xattrs), whose headers would carry those times.
    expect(first.toString('latin1')).toContain('PaxHeaders');
    expect(first.toString('latin1')).toContain('mtime=');
  });
});

describe('archives written from the merged tree', () => {
  /** A merged tree and the upper layer of the run that changed it: etc (mode 0750) and etc/motd are the run's. */
  function changedTree(): { root: string; upper: string } {
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'var/lib/dpkg'), { recursive: true });
    fs.writeFileSync(path.join(root, 'var/lib/dpkg/status'), 'Package: less\nStatus: install ok installed\nMaintainer: m\nDescription: d\nVersion: 590-2\nArchitecture: amd64\n\n');
    fs.mkdirSync(path.join(root, 'tmp'));
    fs.writeFileSync(path.join(root, 'tmp/scratch'), 'x');
    fs.mkdirSync(path.join(root, 'etc'), { mode: 0o750 });
    fs.chmodSync(path.join(root, 'etc'), 0o750);
    fs.writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
    fs.writeFileSync(path.join(root, 'etc/motd'), 'built\n');
    // Larger than one of tar's 1 MiB records, and not a multiple of it.
    fs.writeFileSync(path.join(root, 'big'), Buffer.alloc(3 * 1024 * 1024 + 123, 7));
    const upper = tempDir();
    fs.mkdirSync(path.join(upper, 'etc'));
    fs.writeFileSync(path.join(upper, 'etc/motd'), 'built\n');
    // A name the run removed (a whiteout in a real upper layer): not in the tree, not archived.
    fs.writeFileSync(path.join(upper, 'gone'), '');
    return { root, upper };
  }

  it('one bash run in the tree: the package list, then the tar of the names in archive order, with the excludes and build leftovers left out', () => {
    const files = { packages: '/b/packages.dpkg', archive: '/t/.img.tar.1.tmp', scratch: '/b/export' };
    const argv = treeExportArgv(files, ['./tmp/*']);
    expect(argv.slice(0, 4)).toEqual(['bash', '-e', '-o', 'pipefail']);
    expect(argv.slice(-3)).toEqual(['kiwi-export', files.packages, files.archive]);
    const lines = argv[5]!.split('\n');
    expect(lines[0]).toBe(`dpkg-query --admindir=./var/lib/dpkg -W '-f=\${Package}|None|\${Version}|None|\${Architecture}|None|None\\n' > "$1"`);
    expect(lines.at(-1)).toMatch(/^tar --create --file=- --record-size=1048576 --directory=\. .*'--exclude=\.\/tmp\/\*' '--exclude=\.\/var\/cache\/apt\/archives\/\*\.deb' '--exclude=\.\/var\/lib\/apt\/lists\/\*_\*' .*--index-file=\/b\/export\.index .*--files-from=\/b\/export\.order > "\$2"$/);
  });

  it('run in a tree: its package list, and a tar of the older entries, then the root and what the run changed, which extracts to the same tree', () => {
    const { root, upper } = changedTree();
    const out = tempDir();
    const files = { packages: path.join(out, 'packages.dpkg'), archive: path.join(out, 'image.tar'), scratch: path.join(out, 'export') };
    const [command, ...args] = treeExportArgv(files, ['./tmp/*']);
    execFileSync(command!, args, { cwd: root, env: { ...process.env, KIWI_EXPORT_UPPER: upper } });
    expect(fs.readFileSync(files.packages, 'utf8')).toBe('less|None|590-2|None|amd64|None|None\n');
    const listed = execFileSync('tar', ['-tf', files.archive], { encoding: 'utf8' }).split('\n');
    // Written in whole 1 MiB records (tar's default, 10 KiB, would be a write per 10 KiB to a share).
    expect(fs.statSync(files.archive).size % (1 << 20)).toBe(0);
    expect(listed).toEqual(['./big', './etc/passwd', './tmp/', './var/', './var/lib/', './var/lib/dpkg/', './var/lib/dpkg/status', './', './etc/', './etc/motd', '']);
    // The cut for the compression: where the root's entry begins.
    const offset = changedEntriesOffset(fs.readFileSync(`${files.scratch}.index`, 'utf8'));
    expect(offset).toBeGreaterThan(3 * 1024 * 1024);
    const tail = path.join(out, 'tail.tar');
    fs.writeFileSync(tail, fs.readFileSync(files.archive).subarray(offset));
    expect(execFileSync('tar', ['-tf', tail], { encoding: 'utf8' }).split('\n')).toEqual(['./', './etc/', './etc/motd', '']);
    // A directory after its older contents: tar extracts them into it and gives it its own mode.
    const extracted = tempDir();
    execFileSync('tar', ['-xf', files.archive, '-C', extracted]);
    expect(fs.statSync(path.join(extracted, 'etc')).mode & 0o777).toBe(0o750);
    expect(fs.readFileSync(path.join(extracted, 'etc/passwd'), 'utf8')).toBe('root:x:0:0::/root:/bin/sh\n');
    expect(fs.existsSync(path.join(extracted, 'gone'))).toBe(false);
    expect(fs.readdirSync(path.join(extracted, 'tmp'))).toEqual([]);
  });

  it('finds where the changed entries begin from tar\'s index', () => {
    expect(changedEntriesOffset('block 0: ./big\nblock 6152: ./\nblock 6155: ./etc/\n')).toBe(6152 * 512);
    expect(changedEntriesOffset('block 0: ./big\nblock 4: ./etc/\n')).toBeUndefined();
  });
});

describe('container archives', () => {
  it.each([
    ['oci', `blobs/sha256/${'ab'.repeat(32)}`],
    ['docker', `${'ab'.repeat(32)}/layer.tar`],
  ])('find where the layer\'s bytes begin in the %s archive, from tar\'s index and the member\'s header', (_kind, layer) => {
    const layout = tempDir();
    fs.mkdirSync(path.join(layout, path.dirname(layer)), { recursive: true });
    fs.writeFileSync(path.join(layout, 'index.json'), '{}');
    fs.writeFileSync(path.join(layout, path.dirname(layer), '0'.repeat(64)), 'a config');
    fs.writeFileSync(path.join(layout, layer), 'the layer');
    const out = tempDir();
    const archive = path.join(out, 'image.tar');
    const index = path.join(out, 'index');
    execFileSync('tar', ['--create', `--file=${archive}`, `--directory=${layout}`, '--sort=name', '--verbose', '--block-number', `--index-file=${index}`, 'index.json', layer.split('/')[0]!]);
    const offset = memberDataOffset(archive, fs.readFileSync(index, 'utf8'), layer);
    expect(fs.readFileSync(archive).subarray(offset, offset! + 9).toString()).toBe('the layer');
    // A member tar did not index, or an index that does not match the archive: no offset.
    expect(memberDataOffset(archive, fs.readFileSync(index, 'utf8'), `${layer}x`)).toBeUndefined();
    expect(memberDataOffset(archive, `block 0: ${layer}\n`, layer)).toBeUndefined();
  });
});

describe('temporary result files of a killed build', () => {
  it('are removed when their writer is gone; a live writer\'s and other files stay', () => {
    const dir = tempDir();
    const image = path.join(dir, 'm.x86_64-1.0.0.tar.xz');
    for (const name of ['.m.x86_64-1.0.0.tar.xz.111-5.tmp', '.m.x86_64-1.0.0.tar.xz.333-5-0a1b2c3d.tmp', '.m.x86_64-1.0.0.tar.xz.222-5.tmp', '.m.x86_64-1.0.0.tar.xz.x.tmp', 'notes.txt', '.other.111-5.tmp']) fs.writeFileSync(path.join(dir, name), '');
    removeTempFiles([image], (writer) => writer === '111-5' || writer === '333-5-0a1b2c3d');
    expect(fs.readdirSync(dir).sort()).toEqual(['.m.x86_64-1.0.0.tar.xz.222-5.tmp', '.m.x86_64-1.0.0.tar.xz.x.tmp', '.other.111-5.tmp', 'notes.txt']);
  });

  it('are named with their writer\'s process identity, which a killed build no longer has', () => {
    const image = path.join(tempDir(), 'm.x86_64-1.0.0.tar.xz');
    const writer = /\.m\.x86_64-1\.0\.0\.tar\.xz\.([^.]+)\.tmp$/.exec(tempNameFor(image))?.[1];
    expect(writer).toBe(processIdentity());
    expect(isAlive(writer!)).toBe(true);
  });
});
