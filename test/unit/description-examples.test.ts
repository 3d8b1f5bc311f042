import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kiwiProfileVariables, renderKiwiProfile } from '../../src/builder/description/kiwi-env.js';
import { NO_OVERRIDES } from '../fixtures/descriptions/load-fixture.js';
import { loadImageModel } from '../../src/builder/description/load.js';
import { checkBuildable } from '../../src/builder/build.js';
import { tempDir } from '../fixtures/temp-dir.js';

const examples = resolve(__dirname, '../../descriptions');

function load(name: string, arch: 'x86_64' | 'aarch64' = 'x86_64') {
  return loadImageModel({ ...NO_OVERRIDES, descriptionDir: join(examples, name), arch });
}

describe('the example descriptions parse and resolve', () => {
  it('debian-minimal: a bookworm tbz from deb.debian.org', () => {
    const model = load('debian-minimal');
    expect(model.descriptionFile).toBe(join(examples, 'debian-minimal', 'config.kiwi'));
    expect(model.type.image).toBe('tbz');
    expect(model.preferences.version).toBe('1.0.0');
    expect(model.repositories.map((repo) => [repo.uri, repo.distribution])).toEqual([
      ['http://deb.debian.org/debian', 'bookworm'],
      ['http://deb.debian.org/debian-security', 'bookworm-security'],
    ]);
    expect(model.packages.bootstrap).toEqual(['ca-certificates']);
  });

  it('debian-container: an oci image with its containerconfig', () => {
    const config = load('debian-container').type.containerConfig;
    expect(load('debian-container').type.image).toBe('oci');
    expect(config).toMatchObject({
      name: 'debian-container',
      tag: '1.0.0',
      additionalNames: ['debian-container:latest'],
      cmd: ['/bin/bash'],
      workingDir: '/root',
      environment: [
        { name: 'LANG', value: 'C.UTF-8' },
        { name: 'DEBIAN_FRONTEND', value: 'noninteractive' },
      ],
    });
  });

  it('debian-disk: oem with ext4, grub2 on the serial console, kernel per arch', () => {
    const model = load('debian-disk');
    expect(model.type).toMatchObject({ image: 'oem', filesystem: 'ext4', firmware: 'bios' });
    expect(model.type.bootloader).toMatchObject({ name: 'grub2', outputConsole: 'serial', timeout: 1 });
    expect(model.packages.type).toEqual(['e2fsprogs', 'grub-pc', 'initramfs-tools', 'linux-image-amd64']);
    const arm = load('debian-disk', 'aarch64');
    expect(arm.type.firmware).toBe('efi');
    expect(arm.packages.type).toEqual(['e2fsprogs', 'grub-efi-arm64', 'initramfs-tools', 'linux-image-arm64']);
  });
});

describe('debian-oem, the disk kiwi builds', () => {
  it('oem, ext4, bios, GRUB on the serial line and the console, a kernel and initramfs-tools but no GRUB package', () => {
    const model = load('debian-oem');
    expect(model.type).toMatchObject({ image: 'oem', filesystem: 'ext4', firmware: 'bios', kernelCmdline: 'console=tty0 console=ttyS0,115200' });
    expect(model.type.bootloader).toMatchObject({ name: 'grub2', outputConsole: 'serial console', inputConsole: 'serial console', serialLine: 'serial --unit=0 --speed=115200', timeout: 1 });
    expect(model.packages.type).toEqual(['e2fsprogs', 'initramfs-tools', 'linux-image-amd64']);
    expect([...model.packages.image, ...model.packages.type].filter((name) => name.startsWith('grub'))).toEqual([]);
    expect(() => checkBuildable(model)).not.toThrow();
  });

  it('is not built for aarch64, nor with an xfs root or a gfxterm console', () => {
    const model = load('debian-oem');
    expect(() => checkBuildable({ ...model, arch: 'aarch64' })).toThrow(/built for x86_64 only/);
    expect(() => checkBuildable({ ...model, type: { ...model.type, filesystem: 'xfs' } })).toThrow(/filesystem="xfs"/);
    const bootloader = { ...model.type.bootloader!, outputConsole: 'gfxterm' };
    expect(() => checkBuildable({ ...model, type: { ...model.type, bootloader } })).toThrow(/console "gfxterm" is not supported/);
  });
});

describe('/.profile for KIWI scripts', () => {
  it('has the kiwi_* variables KIWI scripts read', () => {
    const variables = kiwiProfileVariables(load('debian-disk'));
    expect(variables).toMatchObject({
      kiwi_iname: 'debian-disk',
      kiwi_displayname: 'Debian 12 disk',
      kiwi_iversion: '1.0.0',
      kiwi_profiles: '',
      kiwi_type: 'oem',
      kiwi_language: 'en_US',
      kiwi_keytable: 'us',
      kiwi_timezone: 'UTC',
      kiwi_bootloader: 'grub2',
      kiwi_bootloader_console: 'serial:serial',
      kiwi_boot_timeout: '1',
      kiwi_firmware: 'bios',
      kiwi_cmdline: 'console=ttyS0,115200 console=tty0',
      kiwi_initrd_system: 'dracut',
      kiwi_install_volid: 'INSTALL',
      kiwi_delete: '',
    });
    expect(kiwiProfileVariables(load('debian-minimal'))).toMatchObject({ kiwi_type: 'tbz', kiwi_bootloader: 'grub2', kiwi_initrd_system: 'none' });
    expect(kiwiProfileVariables(load('debian-minimal'))).not.toHaveProperty('kiwi_install_volid');
  });

  it('is sorted key=\'value\' lines that bash sources back to the same values', () => {
    const model = load('debian-minimal');
    const tricky = { ...model, displayName: `it's "$HOME" \`x\` \\ !` };
    const text = renderKiwiProfile(tricky);
    const lines = text.trimEnd().split('\n');
    expect(lines).toEqual([...lines].sort());
    expect(lines).toContain(`kiwi_displayname='it'\\''s "$HOME" \`x\` \\ !'`);
    const file = join(tempDir('kiwi-profile-'), '.profile');
    writeFileSync(file, text);
    const echoed = execFileSync('bash', ['-c', 'source "$1"; printf %s "$kiwi_displayname"', 'bash', file], { encoding: 'utf8' });
    expect(echoed).toBe(tricky.displayName);
  });
});
