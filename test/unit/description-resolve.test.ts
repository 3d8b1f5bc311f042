import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RepoSpec } from '../../src/builder/description/repositories.js';
import { translateUri } from '../../src/builder/description/repositories.js';
import { DESCRIPTION_FIXTURES as fixtures, loadFixture } from '../fixtures/descriptions/load-fixture.js';

const load = loadFixture;

const spec = (source: string, fields: Partial<RepoSpec> = {}): RepoSpec => ({
  source,
  type: undefined,
  alias: undefined,
  priority: undefined,
  imageInclude: undefined,
  signingKeys: [],
  components: undefined,
  distribution: undefined,
  repositoryGpgCheck: undefined,
  ...fields,
});

describe('every supported element reaches the model (full fixture)', () => {
  const model = load('full');
  const dir = join(fixtures, 'full');

  it('image and description', () => {
    expect(model).toMatchObject({
      descriptionDir: dir,
      descriptionFile: join(dir, 'config.kiwi'),
      name: 'full-image',
      displayName: 'Full Image',
      id: '4711',
      schemaVersion: '8.5',
      description: {
        author: 'Jane Doe',
        contacts: ['jane@example.org', 'ops@example.org'],
        specification: 'An image using every supported element',
        license: 'GPL-3.0-or-later',
      },
      profiles: [],
      arch: 'x86_64',
      debianArch: 'amd64',
    });
  });

  it('preferences', () => {
    expect(model.preferences).toEqual({
      version: '2.3.4',
      packageManager: 'apt',
      locales: ['en_US', 'de_DE'],
      keytable: 'de',
      timezone: 'Europe/Berlin',
      excludeDocs: true,
      checkSignatures: false,
      releaseVersion: '12',
      bootloaderTheme: 'starfield',
      bootsplashTheme: 'spinner',
    });
  });

  it('the primary type with its containerconfig', () => {
    expect(model.type).toEqual({
      xmlPath: '/image/preferences[1]/type[2]',
      image: 'oci',
      primary: true,
      filesystem: undefined,
      firmware: undefined,
      kernelCmdline: undefined,
      bootloader: undefined,
      containerConfig: {
        xmlPath: '/image/preferences[1]/type[2]/containerconfig[1]',
        name: 'full/app',
        tag: '2.3',
        additionalNames: ['full/app:latest', 'other:2.3', 'registry:5000/x:2.3'],
        maintainer: 'Jane',
        user: 'app',
        workingDir: '/srv',
        entrypoint: ['/usr/bin/app', '--serve', '--port=8080'],
        cmd: [],
        environment: [
          { name: 'MODE', value: 'prod' },
          { name: 'EMPTY', value: '' },
        ],
        labels: [{ name: 'org.example.role', value: 'app' }],
        exposedPorts: ['8080', '53/udp'],
        volumes: ['/data'],
        history: { createdBy: 'ci', author: 'Jane', comment: 'first layer' },
      },
    });
  });

  it('the oem type with its bootloader (legacy console= split into output and input)', () => {
    expect(load('full', { type: 'oem' }).type).toEqual({
      xmlPath: '/image/preferences[1]/type[3]',
      image: 'oem',
      primary: false,
      filesystem: 'ext4',
      firmware: 'efi',
      kernelCmdline: 'console=ttyS0',
      containerConfig: undefined,
      bootloader: {
        xmlPath: '/image/preferences[1]/type[3]/bootloader[1]',
        name: 'grub2',
        outputConsole: 'serial',
        inputConsole: 'gfxterm',
        serialLine: 'serial --speed=115200',
        timeout: 5,
        timeoutStyle: 'menu',
      },
    });
  });

  it('users', () => {
    expect(model.users).toEqual([
      {
        xmlPath: '/image/users[1]/user[1]',
        name: 'root',
        groups: ['root'],
        password: '$6$salt$hash',
        passwordFormat: 'encrypted',
        home: '/root',
        shell: undefined,
        id: undefined,
        realName: undefined,
      },
      {
        xmlPath: '/image/users[1]/user[2]',
        name: 'app',
        groups: ['app', 'users'],
        password: 'secret',
        passwordFormat: 'plain',
        home: '/home/app',
        shell: '/bin/bash',
        id: 1000,
        realName: 'App User',
      },
    ]);
  });

  it('repositories: URI forms, %arch, defaults, arch filter', () => {
    expect(model.repositories).toEqual([
      {
        xmlPath: '/image/repository[1]',
        alias: 'main',
        type: 'apt-deb',
        source: 'https://deb.debian.org/debian/%arch',
        uri: 'https://deb.debian.org/debian/amd64',
        localPath: undefined,
        distribution: 'bookworm',
        components: ['main', 'contrib'],
        architectures: ['amd64', 'arm64'],
        priority: 500,
        imageInclude: true,
        repositoryGpgCheck: true,
        signingKeys: ['file:///usr/share/keyrings/debian-archive-keyring.gpg'],
        useForBootstrap: false,
      },
      {
        xmlPath: '/image/repository[2]',
        alias: expect.stringMatching(/^repo-[0-9a-f]{12}$/),
        type: 'apt-deb',
        source: 'this://local-repo',
        uri: `file://${dir}/local-repo`,
        localPath: `${dir}/local-repo`,
        distribution: undefined,
        components: ['main'],
        architectures: [],
        priority: undefined,
        imageInclude: false,
        repositoryGpgCheck: undefined,
        signingKeys: [],
        useForBootstrap: false,
      },
      expect.objectContaining({ xmlPath: '/image/repository[3]', alias: 'dir', uri: 'file:///srv/repo', localPath: '/srv/repo' }),
    ]);
  });

  it('package lists per stage', () => {
    expect(model.packages).toEqual({
      bootstrap: ['apt-utils', 'ca-certificates'],
      image: ['bash', 'grub-pc', 'vim'],
      type: ['tini'],
      uninstall: ['apt-utils'],
      delete: ['man-db'],
      bootstrapArchives: [{ name: 'bootstrap.tar.gz', targetDir: '/' }],
      imageArchives: [{ name: 'extra.tar.xz', targetDir: '/opt' }],
      bootstrapFiles: [{ name: 'bootstrap.conf', target: '/etc/bootstrap.conf', owner: undefined, permissions: undefined }],
      imageFiles: [{ name: 'app.conf', target: '/etc/app.conf', owner: 'root:root', permissions: '0640' }],
      bootstrapRecommends: true,
      imageRecommends: false,
    });
  });

  it('arch filtering and %arch follow the target architecture', () => {
    const arm = load('full', { arch: 'aarch64' });
    expect(arm.debianArch).toBe('arm64');
    expect(arm.packages.image).toEqual(['bash', 'grub-efi-arm64', 'vim']);
    expect(arm.repositories.map((repo) => repo.uri)).toEqual([
      'https://deb.debian.org/debian/arm64',
      `file://${dir}/local-repo`,
      'file:///srv/repo',
      'file:///srv/arm-only',
    ]);
  });
});

describe('profiles', () => {
  it('without --profile: the import="true" profiles only', () => {
    const model = load('profiles');
    expect(model.profiles).toEqual(['base']);
    expect(model.packages.image).toEqual(['base-files']);
    expect(model.users).toEqual([]);
    expect(model.repositories).toHaveLength(1);
  });

  it('--profile replaces the imports and pulls in requires transitively, depth first', () => {
    expect(load('profiles', { profiles: ['desktop'] }).profiles).toEqual(['desktop', 'gui', 'base']);
  });

  it('elements with profiles= apply when one of their profiles is selected', () => {
    const model = load('profiles', { profiles: ['desktop'] });
    expect(model.packages.image).toEqual(['base-files', 'xterm']);
    expect(model.users.map((user) => user.name)).toEqual(['desk']);
    expect(model.repositories.map((repo) => repo.components)).toEqual([['main'], ['non-free']]);
    expect(load('profiles', { profiles: ['container'] }).packages.image).toEqual(['xterm']);
  });

  it('preferences merge in document order: a later selected section overrides an earlier one', () => {
    expect(load('profiles', { profiles: ['gui'] }).preferences).toMatchObject({
      version: '1.0.0',
      timezone: 'Europe/Paris',
      keytable: 'fr',
      locales: ['en_US'],
    });
    expect(load('profiles', { profiles: ['desktop'] }).preferences).toMatchObject({
      version: '2.0.0',
      timezone: 'Europe/Berlin',
      keytable: 'fr',
      locales: ['en_US'],
    });
  });

  it('a profile for another arch does not exist on this one', () => {
    expect(() => load('profiles', { profiles: ['armonly'] })).toThrow('unknown profile "armonly" for x86_64 (known: base, desktop, gui, container)');
    const arm = load('profiles', { profiles: ['armonly'], arch: 'aarch64' });
    // The common section's tbz comes first in document order and none is primary.
    expect(arm.type.image).toBe('tbz');
    expect(load('profiles', { profiles: ['armonly'], arch: 'aarch64', type: 'oem' }).type.firmware).toBe('efi');
    expect(arm.packages.image).toEqual(['arm-tool']);
  });
});

describe('type selection', () => {
  it('--type, else the primary, else the first of the selected sections', () => {
    expect(load('profiles').type.image).toBe('tbz');
    expect(load('profiles', { profiles: ['container'] }).type.image).toBe('docker');
    expect(load('profiles', { profiles: ['container'], type: 'oci' }).type.image).toBe('oci');
    expect(load('full').type.image).toBe('oci');
    expect(load('full', { type: 'tbz' }).type.image).toBe('tbz');
  });

  it('a type outside the selection is unknown, and the error lists the selection\'s types', () => {
    expect(() => load('profiles', { type: 'oci' })).toThrow('--type: unknown type "oci" with profiles base (defined: tbz)');
  });

  it('docker/oci without containerconfig take the image name and tag latest', () => {
    const config = load('profiles', { profiles: ['container'] }).type.containerConfig;
    expect(config).toMatchObject({ xmlPath: '/image/preferences[4]/type[2]', name: 'profiled', tag: 'latest', entrypoint: undefined });
  });
});

describe('command-line overrides', () => {
  it('--set-repo replaces the fields it sets on the first repository', () => {
    const model = load('profiles', { setRepo: spec('http://mirror.example/debian', { distribution: 'trixie', alias: 'm' }) });
    expect(model.repositories[0]).toMatchObject({
      xmlPath: '/image/repository[1] (with --set-repo)',
      alias: 'm',
      uri: 'http://mirror.example/debian',
      distribution: 'trixie',
      components: ['main'],
    });
  });

  it('--add-repo appends, with this:// relative to the description', () => {
    const model = load('profiles', { addRepos: [spec('this://extra', { alias: 'extra', priority: 10 })] });
    expect(model.repositories.at(-1)).toMatchObject({
      xmlPath: '--add-repo',
      alias: 'extra',
      uri: `file://${join(fixtures, 'profiles', 'extra')}`,
      priority: 10,
    });
  });

  it('--add-package and --delete-package', () => {
    const model = load('profiles', { addPackages: ['curl', 'base-files'], deletePackages: ['man-db'] });
    expect(model.packages.image).toEqual(['base-files', 'curl']);
    expect(model.packages.delete).toEqual(['man-db']);
  });

  it('a repository URI kiwi cannot use is an error at its source', () => {
    expect(() => load('profiles', { addRepos: [spec('obs://Debian:12')] })).toThrow(
      '--add-repo: repository source "obs://Debian:12" is not supported: use http://, https://, dir://, file:// or this://',
    );
  });
});

describe('translateUri', () => {
  const context = { descriptionDir: '/descr', arch: 'x86_64' as const, debianArch: 'amd64' };
  it('keeps http(s), makes local forms file:// with an absolute path', () => {
    expect(translateUri('http://h/debian', context)).toEqual({ uri: 'http://h/debian', localPath: undefined });
    expect(translateUri('https://h/%arch/x', context)).toEqual({ uri: 'https://h/amd64/x', localPath: undefined });
    expect(translateUri('dir:///srv/r/', context)).toEqual({ uri: 'file:///srv/r', localPath: '/srv/r' });
    expect(translateUri('file:///srv/r', context)).toEqual({ uri: 'file:///srv/r', localPath: '/srv/r' });
    expect(translateUri('this://repo/../r2', context)).toEqual({ uri: 'file:///descr/r2', localPath: '/descr/r2' });
  });
  it('rejects relative dir:// paths and unknown schemes', () => {
    expect(translateUri('dir://repo', context)).toBe('dir:// needs an absolute path (use this://repo for a path inside the description)');
    expect(translateUri('/srv/r', context)).toBe('repository source "/srv/r" is not supported: use http://, https://, dir://, file:// or this://');
  });
});
