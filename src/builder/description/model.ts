import type { Arch } from '../../common/arch.js';
import type { BuildType } from './schema-type.js';

/**
 * The resolved image: one description, with the profiles, build type and command-line
 * overrides of one build applied. Everything the build steps need and nothing else.
 * `xmlPath` fields say where a part was defined, for messages (or the option, e.g. `--add-repo`).
 */
export interface ImageModel {
  /** Absolute path of the description directory (this:// and overlays are relative to it). */
  descriptionDir: string;
  /** Absolute path of the description file that was read (config.kiwi, config.xml, ...). */
  descriptionFile: string;
  /** `<image name>`: the base of every result file name. */
  name: string;
  /** `<image displayname>`, defaulting to the name. */
  displayName: string;
  /** `<image id>` (written to /etc/ImageID), if any. */
  id: string | undefined;
  /** `<image schemaversion>` as written, e.g. "7.4". */
  schemaVersion: string;
  /** `<description>`: who made it and what it is. */
  description: DescriptionInfo;
  /** Selected profiles in resolution order (requested or imported, then their requires). */
  profiles: string[];
  /** Target architecture, KIWI spelling (x86_64, aarch64). */
  arch: Arch;
  /** Target architecture, Debian spelling (amd64, arm64). */
  debianArch: string;
  /** The merged `<preferences>` of the selected profiles. */
  preferences: Preferences;
  /** The selected build type. */
  type: ImageType;
  /** Repositories in order (XML ones, then --add-repo ones). */
  repositories: Repository[];
  /** Package lists per stage. */
  packages: PackageLists;
  /** Users to create, in order. */
  users: User[];
}

export interface DescriptionInfo {
  /** `<author>`. */
  author: string;
  /** `<contact>` entries. */
  contacts: string[];
  /** `<specification>`: what the image is for. */
  specification: string;
  /** `<license>`, if any. */
  license: string | undefined;
}

export interface Preferences {
  /** `<version>`, MAJOR.MINOR.RELEASE. */
  version: string;
  /** `<packagemanager>`: always apt in kiwi. */
  packageManager: 'apt';
  /** `<locale>` names, e.g. ["en_US"]; empty when unset. */
  locales: string[];
  /** `<keytable>` (console keymap), if set. */
  keytable: string | undefined;
  /** `<timezone>`, e.g. "Europe/Berlin", if set. */
  timezone: string | undefined;
  /** `<rpm-excludedocs>`: leave documentation out of installed packages (dpkg path-exclude for apt). */
  excludeDocs: boolean;
  /** `<rpm-check-signatures>`: require valid package signatures. */
  checkSignatures: boolean;
  /** `<release-version>`, if set. */
  releaseVersion: string | undefined;
  /** `<bootloader-theme>`, if set. */
  bootloaderTheme: string | undefined;
  /** `<bootsplash-theme>`, if set. */
  bootsplashTheme: string | undefined;
}

export interface ImageType {
  /** Where the `<type>` is. */
  xmlPath: string;
  /** `<type image>`: the output kind. */
  image: BuildType;
  /** `<type primary>`. */
  primary: boolean;
  /** `<type filesystem>`: root filesystem of a disk image (oem only). */
  filesystem: 'ext2' | 'ext3' | 'ext4' | 'xfs' | undefined;
  /** `<type firmware>` (oem only; defaults by arch: bios on x86_64, efi on aarch64). */
  firmware: 'bios' | 'efi' | 'uefi' | undefined;
  /** `<type kernelcmdline>`: extra kernel command line (oem only). */
  kernelCmdline: string | undefined;
  /** `<bootloader>` (oem only; grub2 with defaults when the oem type has none). */
  bootloader: Bootloader | undefined;
  /** `<size>` (oem only): the disk's size; undefined lets kiwi size it from the root tree. */
  size: DiskSize | undefined;
  /** `<containerconfig>` (docker and oci; defaults from the image name when absent). */
  containerConfig: ContainerConfig | undefined;
}

export interface DiskSize {
  /** Where the `<size>` is. */
  xmlPath: string;
  /** The size in bytes (KIWI's M and G are MiB and GiB). */
  bytes: number;
  /** additive="true": added to the size the root tree needs; else the whole disk. */
  additive: boolean;
}

export interface Bootloader {
  /** Where the `<bootloader>` is, or the `<type>` when defaulted. */
  xmlPath: string;
  /** Bootloader name. */
  name: 'grub2';
  /** grub output console(s), e.g. "serial" or "gfxterm", if set. */
  outputConsole: string | undefined;
  /** grub input console(s), if set. */
  inputConsole: string | undefined;
  /** grub serial line setup, e.g. "serial --speed=115200", if set. */
  serialLine: string | undefined;
  /** Menu timeout in seconds, if set (KIWI's default is 10). */
  timeout: number | undefined;
  /** grub timeout_style, if set. */
  timeoutStyle: 'countdown' | 'hidden' | 'menu' | undefined;
}

export interface ContainerConfig {
  /** Where the `<containerconfig>` is, or the `<type>` when defaulted. */
  xmlPath: string;
  /** Image reference name (repository), e.g. "debian-container". */
  name: string;
  /** Tag, "latest" by default. */
  tag: string;
  /** Further references "name:tag" (KIWI fills a missing name or tag from name and tag). */
  additionalNames: string[];
  /** Maintainer (author field of the image config), if set. */
  maintainer: string | undefined;
  /** User the container runs as, if set. */
  user: string | undefined;
  /** Working directory, if set. */
  workingDir: string | undefined;
  /** Entrypoint argv; [] when cleared, undefined when not set. */
  entrypoint: string[] | undefined;
  /** Cmd argv (KIWI's subcommand); [] when cleared, undefined when not set. */
  cmd: string[] | undefined;
  /** Environment variables in order. */
  environment: NameValue[];
  /** Labels in order. */
  labels: NameValue[];
  /** Exposed ports: "80", "53/udp". */
  exposedPorts: string[];
  /** Volume mount points (absolute paths). */
  volumes: string[];
  /** History entry: created_by ("KIWI" by default), author and comment. */
  history: { createdBy: string; author: string | undefined; comment: string | undefined };
}

export interface NameValue {
  /** Name (environment variable or label key). */
  name: string;
  /** Value, possibly empty. */
  value: string;
}

export interface Repository {
  /** Where it was defined: an XML path, "--set-repo" or "--add-repo". */
  xmlPath: string;
  /** Name for apt's sources file; from alias= or derived from the URI. */
  alias: string;
  /** Repository type; apt-deb is the only one. */
  type: 'apt-deb';
  /** The source as written, e.g. "this://repo" or "http://deb.debian.org/debian". */
  source: string;
  /** The URI apt uses: http(s)://... or file:///absolute/path, with %arch replaced. */
  uri: string;
  /** Absolute local path for dir://, file:// and this:// sources (to share into a box); else undefined. */
  localPath: string | undefined;
  /** Suite, e.g. "bookworm"; undefined for a flat repository. */
  distribution: string | undefined;
  /** Components, e.g. ["main", "contrib"] (default ["main"]). */
  components: string[];
  /** Debian architectures the repository is used for; empty means apt's default. */
  architectures: string[];
  /** apt pin priority, if set. */
  priority: number | undefined;
  /** Keep this repository configured in the image. */
  imageInclude: boolean;
  /** Whether the repository signature must verify; undefined leaves apt's default (verify). */
  repositoryGpgCheck: boolean | undefined;
  /** Signing key files (file:// URIs or paths) apt trusts for this repository. */
  signingKeys: string[];
  /** use_for_bootstrap: bootstrap from the repositories marked so (all of them when none is). */
  useForBootstrap: boolean;
}

export interface PackageLists {
  /** Packages of type="bootstrap" sections, sorted. */
  bootstrap: string[];
  /** Packages of type="image" sections plus --add-package, sorted. */
  image: string[];
  /** Packages of the sections for the selected build type (type="oci" ...), sorted. */
  type: string[];
  /** Packages of type="uninstall" sections: removed with their dependencies, sorted. */
  uninstall: string[];
  /** Packages of type="delete" sections plus --delete-package: removed forcibly, sorted. */
  delete: string[];
  /** Archives (tarballs, relative to the description) unpacked after bootstrap. */
  bootstrapArchives: Archive[];
  /** Archives unpacked with the image (image and build-type sections). */
  imageArchives: Archive[];
  /** Files copied in after bootstrap. */
  bootstrapFiles: FileEntry[];
  /** Files copied in with the image (image and build-type sections). */
  imageFiles: FileEntry[];
  /** Install recommended packages at bootstrap (patternType="plusRecommended"). */
  bootstrapRecommends: boolean;
  /** Install recommended packages for the image (patternType="plusRecommended"). */
  imageRecommends: boolean;
}

export interface Archive {
  /** Archive file name, relative to the description directory. */
  name: string;
  /** Directory inside the image to unpack into ("/" by default). */
  targetDir: string;
}

export interface FileEntry {
  /** File name, relative to the description directory. */
  name: string;
  /** Path inside the image; undefined means /NAME. */
  target: string | undefined;
  /** chown spec, e.g. "root:root", if set. */
  owner: string | undefined;
  /** chmod mode, e.g. "0644", if set. */
  permissions: string | undefined;
}

export interface User {
  /** Where the `<user>` is. */
  xmlPath: string;
  /** Login name. */
  name: string;
  /** Groups; the first is the login group. Empty means the toolchain's default. */
  groups: string[];
  /** Password as written: a crypt(3) hash, or plain text when passwordFormat is plain. */
  password: string;
  /** How password is written. */
  passwordFormat: 'encrypted' | 'plain';
  /** Home directory, if set. */
  home: string | undefined;
  /** Login shell, if set. */
  shell: string | undefined;
  /** Numeric user id, if set. */
  id: number | undefined;
  /** Full name (GECOS), if set. */
  realName: string | undefined;
}
