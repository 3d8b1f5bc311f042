import { describe, expect, it } from 'vitest';
import { moduleNameOf, parseModuleIndex, resolveModules } from '../../src/box/recipe/kernel-modules.js';

// Excerpts of Debian bookworm's 6.1 amd64 index files.
const index = parseModuleIndex({
  dep: [
    'kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko',
    'kernel/fs/jbd2/jbd2.ko:',
    'kernel/fs/mbcache.ko:',
    'kernel/lib/crc16.ko:',
    'kernel/crypto/crc32c_generic.ko:',
    'kernel/arch/x86/crypto/crc32c-intel.ko:',
    'kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
    'kernel/drivers/virtio/virtio_pci_legacy_dev.ko:',
    'kernel/drivers/virtio/virtio_pci_modern_dev.ko:',
    'kernel/drivers/virtio/virtio.ko:',
    'kernel/drivers/virtio/virtio_ring.ko:',
    'kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
    'kernel/fs/fuse/virtiofs.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko kernel/fs/fuse/fuse.ko',
    'kernel/fs/fuse/fuse.ko:',
  ].join('\n'),
  softdep: '# Soft dependencies\nsoftdep ext4 pre: crypto-crc32c\nsoftdep jbd2 pre: crypto-crc32c\n',
  alias: 'alias crypto-crc32c crc32c_generic\nalias crypto-crc32c crc32c_intel\nalias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci\n',
  builtin: 'kernel/fs/binfmt_script.ko\nkernel/fs/binfmt_elf.ko\n',
});

describe('kernel module resolution', () => {
  it('names modules as the kernel does, whatever the compression or dashes', () => {
    expect(moduleNameOf('kernel/arch/x86/crypto/crc32c-intel.ko.xz')).toBe('crc32c_intel');
    expect(moduleNameOf('kernel/fs/ext4/ext4.ko.zst')).toBe('ext4');
  });

  it('puts every dependency from modules.dep before its dependent, each once', () => {
    const { load } = resolveModules(index, ['virtio_pci', 'virtio_blk', 'virtiofs'], '6.1.0-test');
    const names = load.map((m) => m.name);
    expect(names).toEqual(['virtio_pci_legacy_dev', 'virtio_pci_modern_dev', 'virtio', 'virtio_ring', 'virtio_pci', 'virtio_blk', 'fuse', 'virtiofs']);
    expect(load.find((m) => m.name === 'virtio_blk')?.path).toBe('kernel/drivers/block/virtio_blk.ko');
  });

  it('loads softdep "pre:" modules (through their aliases) first, as optional', () => {
    const { load } = resolveModules(index, ['ext4'], '6.1.0-test');
    expect(load.map((m) => m.name)).toEqual(['crc32c_generic', 'crc32c_intel', 'crc16', 'mbcache', 'jbd2', 'ext4']);
    expect(load.filter((m) => !m.required).map((m) => m.name)).toEqual(['crc32c_generic', 'crc32c_intel']);
  });

  it('a module asked for directly is required even when it was first met as a softdep', () => {
    const { load } = resolveModules(index, ['ext4', 'crc32c_generic'], '6.1.0-test');
    expect(load.find((m) => m.name === 'crc32c_generic')?.required).toBe(true);
  });

  it('reports built-in modules instead of loading them', () => {
    expect(resolveModules(index, ['binfmt_elf', 'fuse'], '6.1.0-test')).toEqual({
      load: [{ name: 'fuse', path: 'kernel/fs/fuse/fuse.ko', required: true }],
      builtin: ['binfmt_elf'],
    });
  });

  it('names every unknown module in one usage error', () => {
    expect(() => resolveModules(index, ['ext4', 'ext5', 'virtio-gpu'], '6.1.0-test')).toThrow(
      /kernel 6\.1\.0-test has no module named ext5, virtio_gpu/,
    );
  });
});
