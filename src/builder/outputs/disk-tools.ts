import fs from 'node:fs';
import path from 'node:path';
import { EnvironmentError } from '../../common/errors.js';
import { TOOL_PATH } from '../../runtime/tools.js';
import type { Firmware } from './disk-layout.js';

/**
 * The build host's tools a disk image needs, checked before the build starts (the image
 * itself need not contain GRUB). Each with the Debian package that has it.
 */

/** GRUB's module directories on Debian. */
export const GRUB_LIB = '/usr/lib/grub';

export interface HostTool {
  /** A program looked up in PATH, or an absolute file. */
  name: string;
  package: string;
}

/** What building a disk for `firmware` runs or reads. Pure. */
export function diskTools(firmware: Firmware): HostTool[] {
  const tools: HostTool[] = [
    { name: 'sfdisk', package: 'fdisk' },
    { name: 'mke2fs', package: 'e2fsprogs' },
    { name: 'grub-mkimage', package: 'grub-common' },
    // Every disk boots under a BIOS too: an efi disk has a BIOS boot partition.
    { name: `${GRUB_LIB}/i386-pc/boot.img`, package: 'grub-pc-bin' },
  ];
  if (firmware === 'efi') {
    tools.push(
      { name: `${GRUB_LIB}/x86_64-efi/linux.mod`, package: 'grub-efi-amd64-bin' },
      { name: 'mkfs.fat', package: 'dosfstools' },
      { name: 'mcopy', package: 'mtools' },
    );
  }
  return tools;
}

/** The tools of `tools` that are not on this machine; programs are looked up where the build runs them from (the system PATH). */
export function missingTools(tools: readonly HostTool[], dirs: readonly string[] = TOOL_PATH.split(':')): HostTool[] {
  const present = (name: string): boolean => (name.startsWith('/') ? fs.existsSync(name) : dirs.some((dir) => isExecutable(path.join(dir, name))));
  return tools.filter((tool) => !present(tool.name));
}

/** Throws an EnvironmentError naming the packages to install when a tool is missing. */
export function checkDiskTools(firmware: Firmware, dirs?: readonly string[]): void {
  const missing = missingTools(diskTools(firmware), dirs);
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((tool) => tool.package))];
  throw new EnvironmentError(`building a ${firmware} disk image needs ${missing.map((tool) => tool.name).join(', ')}, not found on this machine`, {
    hint: `install ${packages.join(' ')} (apt-get install ${packages.join(' ')})`,
  });
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}
