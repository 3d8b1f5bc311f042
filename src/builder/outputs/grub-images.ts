import fs from 'node:fs';
import path from 'node:path';
import type { BuildLog } from '../build-log.js';
import { runLogged } from '../steps/run-logged.js';
import { GRUB_LIB } from './disk-tools.js';
import { embeddedGrubConfig, GRUB_PREFIX, grubModules, type GrubPlatform } from './grub-config.js';

/** grub-mkimage's argv for one platform's image, with every module it needs built in. Pure. */
export function grubMkimageArgv(platform: GrubPlatform, output: string, embeddedConfig: string): string[] {
  return ['grub-mkimage', `--format=${platform}`, `--directory=${path.join(GRUB_LIB, platform)}`, `--output=${output}`, `--config=${embeddedConfig}`, `--prefix=${GRUB_PREFIX}`, ...grubModules(platform)];
}

/**
 * Makes the GRUB image for `platform` with the build host's GRUB (core.img for BIOS,
 * BOOTX64.EFI for UEFI) in `workDir`, and returns its path.
 */
export async function makeGrubImage(platform: GrubPlatform, rootUuid: string, workDir: string, log: BuildLog, signal?: AbortSignal): Promise<string> {
  const config = path.join(workDir, 'grub-embedded.cfg');
  const output = path.join(workDir, platform === 'i386-pc' ? 'core.img' : 'BOOTX64.EFI');
  fs.writeFileSync(config, embeddedGrubConfig(rootUuid));
  await runLogged(grubMkimageArgv(platform, output, config), { log, step: 'disk', ...(signal ? { signal } : {}) });
  return output;
}

/** boot.img, the MBR code of GRUB for BIOS, from the build host. */
export function readBootImg(): Buffer {
  return fs.readFileSync(path.join(GRUB_LIB, 'i386-pc', 'boot.img'));
}
