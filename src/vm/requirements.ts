import fs from 'node:fs';
import path from 'node:path';
import { ARCHES, hostArch, type Arch } from '../common/arch.js';

/** A host program or file kiwi needs for some capability, and where it comes from. */
export interface Requirement {
  /** Short name shown by `kiwi doctor`. */
  name: string;
  /** Candidate paths (absolute) or command names looked up in PATH; the first found wins. */
  candidates: string[];
  /** The Debian/Ubuntu package that provides it. */
  package: string;
  /** What needs it, as the user would say it. */
  neededFor: string;
  /** A missing optional requirement only slows something down or disables one backend. */
  optional?: boolean;
}

/** mmdebstrap's check that a foreign architecture's programs run (kiwi skips it, with a check of its own, when missing). */
export const ARCH_TEST: Requirement = {
  name: 'arch-test',
  candidates: ['arch-test'],
  package: 'arch-test',
  neededFor: 'building boxes of another architecture (mmdebstrap checks emulation)',
  optional: true,
};

/**
 * qemu-user for the architecture that is not the host's, registered with binfmt_misc by
 * kiwi box build: mmdebstrap configures a foreign box's packages in a chroot through it.
 */
export function qemuUserRequirement(host: Arch): Requirement {
  const foreign = ARCHES.find((arch) => arch !== host)!;
  return {
    name: `qemu-${foreign}-static`,
    candidates: [`/usr/lib/binfmt.d/qemu-${foreign}.conf`],
    package: 'qemu-user-static',
    neededFor: `building ${foreign} boxes on this ${host} host`,
    optional: true,
  };
}

export const REQUIREMENTS: Requirement[] = [
  { name: 'qemu-system-x86_64', candidates: ['qemu-system-x86_64'], package: 'qemu-system-x86', neededFor: 'x86_64 boxes' },
  { name: 'qemu-system-aarch64', candidates: ['qemu-system-aarch64'], package: 'qemu-system-arm', neededFor: 'aarch64 boxes (cross-arch builds)', optional: true },
  { name: 'qemu-img', candidates: ['qemu-img'], package: 'qemu-utils', neededFor: 'per-VM disk overlays and box builds' },
  { name: 'qboot', candidates: ['/usr/share/qemu/qboot.rom'], package: 'qemu-system-data', neededFor: 'fast x86_64 boots', optional: true },
  { name: 'virtiofsd', candidates: ['/usr/libexec/virtiofsd', '/usr/lib/qemu/virtiofsd', 'virtiofsd'], package: 'qemu-system-common', neededFor: 'virtiofs shares', optional: true },
  { name: 'sftp-server', candidates: ['/usr/lib/openssh/sftp-server', '/usr/libexec/sftp-server', '/usr/libexec/openssh/sftp-server'], package: 'openssh-sftp-server', neededFor: 'sshfs shares (the host side)', optional: true },
  { name: 'bwrap', candidates: ['bwrap'], package: 'bubblewrap', neededFor: 'sshfs shares (jails the sftp-server to the share)', optional: true },
  { name: 'mmdebstrap', candidates: ['mmdebstrap'], package: 'mmdebstrap', neededFor: 'building boxes (kiwi box build)' },
  { name: 'mkfs.ext4', candidates: ['mkfs.ext4', '/usr/sbin/mkfs.ext4', '/sbin/mkfs.ext4'], package: 'e2fsprogs', neededFor: 'building boxes (root disk)' },
  { name: 'busybox (static)', candidates: ['/bin/busybox', '/usr/bin/busybox'], package: 'busybox-static', neededFor: 'building boxes (initramfs)' },
  qemuUserRequirement(hostArch()),
  ARCH_TEST,
];

export interface RequirementStatus {
  requirement: Requirement;
  /** Where it was found; undefined when missing. */
  found: string | undefined;
}

/** Finds each requirement on this host. `exists` is injectable so the logic is unit-tested. */
export function checkRequirements(
  requirements: Requirement[] = REQUIREMENTS,
  searchPath: string = process.env.PATH ?? '',
  exists: (file: string) => boolean = isExecutableOrFile,
): RequirementStatus[] {
  const dirs = [...searchPath.split(':').filter(Boolean), '/usr/sbin', '/sbin'];
  return requirements.map((requirement) => ({
    requirement,
    found: requirement.candidates
      .flatMap((candidate) => (path.isAbsolute(candidate) ? [candidate] : dirs.map((dir) => path.join(dir, candidate))))
      .find(exists),
  }));
}

/** The packages that would install every missing requirement (mandatory and optional), once each. */
export function missingPackages(statuses: RequirementStatus[]): string[] {
  return [...new Set(statuses.filter((status) => !status.found).map((status) => status.requirement.package))];
}

function isExecutableOrFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}
