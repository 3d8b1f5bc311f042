import type { Arch } from '../../common/arch.js';
import type { Bootloader, ContainerConfig, ImageType, Preferences } from './model.js';
import type { Problem } from './problems.js';
import type { PreferencesDoc } from './schema.js';
import type { CommandDoc, ContainerConfigDoc, TypeDoc } from './schema-type.js';

/**
 * Merges the selected `<preferences>` sections in document order: a setting in a later
 * section overrides the same setting in an earlier one (so a profile's section placed
 * after the common one refines it). `version` is checked for presence by validate.ts.
 */
export function mergePreferences(sections: readonly PreferencesDoc[]): Preferences & { versionSet: boolean } {
  const last = <K extends keyof PreferencesDoc>(key: K) =>
    sections.reduce<PreferencesDoc[K] | undefined>((found, section) => section[key] ?? found, undefined);
  const version = last('version')?.text;
  return {
    version: version ?? '',
    versionSet: version !== undefined,
    packageManager: 'apt',
    locales: last('locale')?.text.split(',') ?? [],
    keytable: last('keytable')?.text,
    timezone: last('timezone')?.text,
    excludeDocs: last('rpm-excludedocs')?.text ?? false,
    checkSignatures: last('rpm-check-signatures')?.text ?? false,
    releaseVersion: last('release-version')?.text,
    bootloaderTheme: last('bootloader-theme')?.text,
    bootsplashTheme: last('bootsplash-theme')?.text,
  };
}

/**
 * The build type as KIWI picks it among the `<type>`s of the selected preferences (in
 * document order): `--type`, else the first primary="true", else the first.
 */
export function selectType(
  sections: readonly PreferencesDoc[],
  requested: string | undefined,
  profiles: readonly string[],
): { type: TypeDoc | undefined; problems: Problem[] } {
  const types = sections.flatMap((section) => section.type);
  const problems = duplicateTypes(types);
  const forProfiles = profiles.length > 0 ? `profiles ${profiles.join(', ')}` : 'no profiles';
  const known = types.length > 0 ? `defined: ${types.map((type) => type.image).join(', ')}` : 'none defined';
  if (requested !== undefined) {
    const type = types.find((candidate) => candidate.image === requested);
    if (type) return { type, problems };
    return { type: undefined, problems: [...problems, { where: '--type', message: `unknown type "${requested}" with ${forProfiles} (${known})` }] };
  }
  const type = types.find((candidate) => candidate.primary === true) ?? types[0];
  if (type) return { type, problems };
  return { type: undefined, problems: [...problems, { where: '/image', message: `no <type> in the <preferences> selected with ${forProfiles}` }] };
}

/** KIWI's check_image_type_unique: one image kind per profile selection, or which one wins is a guess. */
function duplicateTypes(types: readonly TypeDoc[]): Problem[] {
  return types.flatMap((type, index) => {
    const first = types.findIndex((other) => other.image === type.image);
    if (first === index) return [];
    return [{
      where: type.xmlPath,
      message: `type "${type.image}" is defined again for the same profiles (first at ${types[first]?.xmlPath}): move one into its own profile`,
    }];
  });
}

/** The model of a `<type>`, with KIWI's defaults for what it leaves out. */
export function toImageType(type: TypeDoc, imageName: string, arch: Arch): ImageType {
  const disk = type.image === 'oem';
  const container = type.image === 'docker' || type.image === 'oci';
  return {
    xmlPath: type.xmlPath,
    image: type.image,
    primary: type.primary ?? false,
    filesystem: type.filesystem,
    // KIWI's Defaults.get_default_firmware: bios on x86, efi on arm.
    firmware: type.firmware ?? (disk ? (arch === 'x86_64' ? 'bios' : 'efi') : undefined),
    kernelCmdline: type.kernelcmdline,
    bootloader: type.bootloader ? toBootloader(type.bootloader) : disk ? defaultBootloader(type.xmlPath) : undefined,
    size: type.size ? { xmlPath: type.size.xmlPath, bytes: type.size.text * (type.size.unit === 'G' ? 1024 ** 3 : 1024 ** 2), additive: type.size.additive ?? false } : undefined,
    containerConfig: type.containerconfig
      ? toContainerConfig(type.containerconfig, imageName)
      : container
        ? toContainerConfig({ xmlPath: type.xmlPath, text: undefined }, imageName)
        : undefined,
  };
}

function toBootloader(doc: NonNullable<TypeDoc['bootloader']>): Bootloader {
  // The pre-8.4 console="OUT IN" is split as KIWI's convert83to84.xsl does.
  const [legacyOut, legacyIn] = doc.console?.split(' ') ?? [];
  return {
    xmlPath: doc.xmlPath,
    name: doc.name,
    outputConsole: doc.output_console ?? legacyOut,
    inputConsole: doc.input_console ?? legacyIn,
    serialLine: doc.serial_line,
    timeout: doc.timeout,
    timeoutStyle: doc.timeout_style,
  };
}

function defaultBootloader(xmlPath: string): Bootloader {
  const none = undefined;
  return { xmlPath, name: 'grub2', outputConsole: none, inputConsole: none, serialLine: none, timeout: none, timeoutStyle: none };
}

/** `<containerconfig>` with defaults: name from the image, tag "latest", history by "KIWI". */
function toContainerConfig(doc: Partial<ContainerConfigDoc> & { xmlPath: string }, imageName: string): ContainerConfig {
  const name = doc.name ?? imageName;
  const tag = doc.tag ?? 'latest';
  return {
    xmlPath: doc.xmlPath,
    name,
    tag,
    additionalNames: (doc.additionalnames ?? '')
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '')
      .map((entry) => completeReference(entry, name, tag)),
    maintainer: doc.maintainer,
    user: doc.user,
    workingDir: doc.workingdir,
    entrypoint: doc.entrypoint ? toArgv(doc.entrypoint) : undefined,
    cmd: doc.subcommand ? toArgv(doc.subcommand) : undefined,
    environment: (doc.environment?.env ?? []).map(({ name: key, value }) => ({ name: key, value })),
    labels: (doc.labels?.label ?? []).map(({ name: key, value }) => ({ name: key, value })),
    exposedPorts: (doc.expose?.port ?? []).map((port) => port.number),
    volumes: (doc.volumes?.volume ?? []).map((volume) => volume.name),
    history: { createdBy: doc.history?.created_by ?? 'KIWI', author: doc.history?.author, comment: doc.history?.text },
  };
}

/** "repo:tag", ":tag" or "repo" (KIWI fills the missing part from name and tag). */
function completeReference(entry: string, name: string, tag: string): string {
  const colon = entry.lastIndexOf(':');
  // A colon before the last slash belongs to a registry port, not to a tag.
  if (colon === -1 || colon < entry.lastIndexOf('/')) return `${entry}:${tag}`;
  return `${entry.slice(0, colon) || name}:${entry.slice(colon + 1) || tag}`;
}

function toArgv(command: CommandDoc): string[] {
  if (command.clear === true) return [];
  return [command.execute ?? '', ...command.argument.map((argument) => argument.name)];
}
