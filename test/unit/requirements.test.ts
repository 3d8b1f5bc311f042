import { describe, expect, it } from 'vitest';
import { checkRequirements, missingPackages, type Requirement } from '../../src/vm/requirements.js';

const requirements: Requirement[] = [
  { name: 'qemu-img', candidates: ['qemu-img'], package: 'qemu-utils', neededFor: 'overlays' },
  { name: 'virtiofsd', candidates: ['/usr/libexec/virtiofsd', '/usr/lib/qemu/virtiofsd'], package: 'qemu-system-common', neededFor: 'virtiofs', optional: true },
  { name: 'qemu-nbd', candidates: ['qemu-nbd'], package: 'qemu-utils', neededFor: 'nothing' },
];

describe('host requirements', () => {
  it('finds commands in PATH and absolute candidates in order', () => {
    const present = new Set(['/opt/bin/qemu-img', '/usr/lib/qemu/virtiofsd']);
    const statuses = checkRequirements(requirements, '/usr/bin:/opt/bin', (file) => present.has(file));
    expect(statuses.map((status) => status.found)).toEqual(['/opt/bin/qemu-img', '/usr/lib/qemu/virtiofsd', undefined]);
  });

  it('names each missing package once', () => {
    const statuses = checkRequirements(requirements, '/usr/bin', () => false);
    expect(missingPackages(statuses)).toEqual(['qemu-utils', 'qemu-system-common']);
  });
});
