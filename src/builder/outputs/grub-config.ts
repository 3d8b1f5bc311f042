import type { Bootloader } from '../description/model.js';

/**
 * GRUB's configuration for a disk image, as text. Pure.
 *
 * The GRUB images (core.img, BOOTX64.EFI) carry every module they need and a small
 * embedded config that finds the root file system by UUID and sets the prefix there; GRUB
 * then reads /boot/grub/grub.cfg from the image's root, which stays editable in the
 * running system. No `insmod` is needed (or possible: the image holds no GRUB modules).
 */

/** KIWI's default boot menu timeout, in seconds. */
export const DEFAULT_TIMEOUT = 10;

/** Where grub.cfg is in the root file system (the prefix the embedded config sets). */
export const GRUB_PREFIX = '/boot/grub';

/** The consoles kiwi can set up for GRUB: the firmware's text console and a serial line. */
const TERMINALS = ['console', 'serial'] as const;

/** The kernel command line: the root file system by UUID, read-only until fsck ran (Debian's way), then `<type kernelcmdline>`. */
export function kernelCmdline(rootUuid: string, extra: string | undefined): string {
  return [`root=UUID=${rootUuid}`, 'ro', ...(extra ?? '').split(/\s+/).filter(Boolean)].join(' ');
}

/** The terminals of a bootloader's console attribute ("serial console"): unknown ones are returned as `unsupported`. */
export function grubTerminals(value: string | undefined): { terminals: string[]; unsupported: string[] } {
  const words = (value ?? 'console').split(/\s+/).filter(Boolean);
  const known = (word: string): boolean => (TERMINALS as readonly string[]).includes(word);
  return { terminals: words.filter(known), unsupported: words.filter((word) => !known(word)) };
}

export interface GrubMenu {
  /** Menu entry title, e.g. the image's display name. */
  title: string;
  rootUuid: string;
  /** Kernel and initrd paths inside the root file system, e.g. /vmlinuz. */
  kernel: string;
  initrd: string;
  cmdline: string;
  bootloader: Bootloader | undefined;
}

/** /boot/grub/grub.cfg: consoles, timeout, and one menu entry booting the image's kernel. */
export function grubConfig(menu: GrubMenu): string {
  const loader = menu.bootloader;
  const output = grubTerminals(loader?.outputConsole).terminals;
  const input = grubTerminals(loader?.inputConsole ?? loader?.outputConsole).terminals;
  const lines = ['# Written by kiwi build: the disk image boots this entry.', 'set default=0', `set timeout=${loader?.timeout ?? DEFAULT_TIMEOUT}`];
  if (loader?.timeoutStyle) lines.push(`set timeout_style=${loader.timeoutStyle}`);
  if (output.includes('serial') || input.includes('serial')) lines.push(loader?.serialLine ?? 'serial');
  if (input.length > 0) lines.push(`terminal_input ${input.join(' ')}`);
  if (output.length > 0) lines.push(`terminal_output ${output.join(' ')}`);
  lines.push(
    `menuentry '${menu.title.replaceAll("'", "'\\''")}' --id kiwi {`,
    `    search --no-floppy --fs-uuid --set=root ${menu.rootUuid}`,
    `    echo 'Loading ${menu.kernel} ...'`,
    `    linux ${menu.kernel} ${menu.cmdline}`,
    `    initrd ${menu.initrd}`,
    '}',
  );
  return `${lines.join('\n')}\n`;
}

/** The config embedded in the GRUB image: find the root file system, read its grub.cfg. */
export function embeddedGrubConfig(rootUuid: string): string {
  return [`search --no-floppy --fs-uuid --set=root ${rootUuid}`, `set prefix=($root)${GRUB_PREFIX}`, ''].join('\n');
}

/** GRUB platforms kiwi makes images for: BIOS (core.img) and 64-bit UEFI (BOOTX64.EFI). */
export type GrubPlatform = 'i386-pc' | 'x86_64-efi';

/** The modules each GRUB image embeds: disk access, partitions, ext2/3/4, finding by UUID, the menu, the Linux loader, consoles. */
export function grubModules(platform: GrubPlatform): string[] {
  const common = ['part_msdos', 'part_gpt', 'ext2', 'search', 'search_fs_uuid', 'normal', 'configfile', 'echo', 'test', 'linux', 'serial', 'terminal'];
  return platform === 'i386-pc' ? ['biosdisk', ...common] : ['fat', 'efi_gop', ...common];
}
