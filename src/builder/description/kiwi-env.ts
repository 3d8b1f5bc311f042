import type { ImageModel } from './model.js';

/**
 * The variables KIWI writes to `/.profile` for config.sh, images.sh and friends
 * (kiwi/system/profile.py and Defaults.to_profile), for the subset kiwi builds. Variables
 * for features kiwi does not have (strip, drivers, oemconfig, volumes) are left out;
 * those KIWI always defines are kept, empty when unset, so `set -u` scripts work.
 */
export function kiwiProfileVariables(model: ImageModel): Record<string, string> {
  const { type, preferences } = model;
  const bootloader = type.bootloader;
  const variables: Record<string, string> = {
    kiwi_iname: model.name,
    kiwi_displayname: model.displayName,
    kiwi_iversion: preferences.version,
    kiwi_profiles: model.profiles.join(','),
    kiwi_type: type.image,
    kiwi_delete: model.packages.delete.join(' '),
    kiwi_language: preferences.locales.join(','),
    kiwi_keytable: preferences.keytable ?? '',
    kiwi_timezone: preferences.timezone ?? '',
    kiwi_splash_theme: preferences.bootsplashTheme ?? '',
    kiwi_loader_theme: preferences.bootloaderTheme ?? '',
    kiwi_showlicense: '',
    kiwi_compressed: '',
    kiwi_cmdline: type.kernelCmdline ?? '',
    kiwi_firmware: type.firmware ?? '',
    // KIWI reports grub2 (its default loader) for every type, with or without a disk.
    kiwi_bootloader: bootloader?.name ?? 'grub2',
    kiwi_bootloader_console: `${bootloader?.outputConsole ?? 'default'}:${bootloader?.inputConsole ?? 'default'}`,
    kiwi_boot_timeout: bootloader?.timeout?.toString() ?? '',
    kiwi_initrd_system: type.image === 'oem' ? 'dracut' : 'none',
    kiwi_target_blocksize: '512',
    kiwi_shasum_suffix: '.sha256',
    kiwi_luks_empty_passphrase: 'false',
    // Defaults.to_profile: disk geometry defaults, in bytes and sectors.
    kiwi_align: '1048576',
    kiwi_startsector: '2048',
    kiwi_sectorsize: '512',
    kiwi_inode_size: '256',
    kiwi_inode_ratio: '16384',
    kiwi_min_inodes: '20000',
  };
  if (type.image === 'oem') variables.kiwi_install_volid = 'INSTALL';
  return variables;
}

/**
 * The `/.profile` text: `key='value'` lines sorted by key, single-quoted the way KIWI's
 * baseQuoteFile does (a ' becomes '\''), so scripts can `source /.profile`.
 */
export function renderKiwiProfile(model: ImageModel): string {
  const variables = kiwiProfileVariables(model);
  return Object.keys(variables)
    .sort()
    .map((key) => `${key}='${(variables[key] ?? '').replaceAll("'", "'\\''")}'\n`)
    .join('');
}
