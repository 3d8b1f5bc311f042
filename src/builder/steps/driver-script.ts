import type { ImageModel } from '../description/model.js';
import { holdDownloadsShared, markUsedDownloads } from './apt-archives.js';
import { q } from './users.js';

/** Where the build's inputs are inside the container (on its /tmp tmpfs: no trace in the image). */
export const CONTAINER_INPUT = '/tmp/kiwi-input';
export const CONTAINER_DESCRIPTION = '/tmp/kiwi-description';
export const CONTAINER_APT_ARCHIVES = '/var/cache/apt/archives';
/** Where the update phase writes the build's new apt index files (apt-lists.ts); every phase gets the build's as a layer (apt-lists-layer.ts). */
export const CONTAINER_APT_LISTS = '/tmp/kiwi-apt-lists';

/** The line a step prints when it starts, ends or fails: "::kiwi-step ID start|done|failed CODE". */
export const STEP_MARKER = /^::kiwi-step ([a-z-]+) (start|done|failed)(?: (\d+))?$/;

/** What exists beside the description, found before the build (the script itself is pure). */
export interface DescriptionFiles {
  postBootstrap: boolean;
  config: boolean;
  images: boolean;
  rootDir: boolean;
  rootTar: boolean;
  /** Selected profiles that have an overlay directory of their own. */
  profileDirs: string[];
}

/** The steps run inside the container, in order, with the line shown when each starts. */
export const CONTAINER_STEPS = {
  sources: 'apt sources, /.profile, /.kconfig, apt-get update',
  'post-bootstrap': 'post_bootstrap.sh',
  packages: 'upgrade, then install the image packages',
  archives: 'archives and files of the description',
  overlay: 'root/ overlay, root.tar.gz, profile overlays',
  setup: 'timezone, locale, users and groups',
  config: 'config.sh',
  uninstall: 'uninstall and delete packages',
  images: 'images.sh',
  clean: 'remove apt lists and caches, /.profile, /.kconfig, scripts',
} as const;
export type ContainerStep = keyof typeof CONTAINER_STEPS;

/** The three containers of a build, each running its own driver script (see driverScripts). */
export type BuildPhase = 'update' | 'packages' | 'image';

/**
 * The bash scripts that are the build containers' PID 1, one per phase: `update` runs apt-get
 * update over the bootstrap layer (its index files go out, the rest is thrown away);
 * `packages` runs post_bootstrap.sh, upgrades and installs the packages; its upper layer is kept
 * as the packages layer (packages-layer.ts); `image` does the rest over that layer. Each
 * step is a function run in a `set -e` subshell between markers, so the host tells steps
 * apart and knows which failed and with what code. All output goes to stdout, in order. The
 * order follows KIWI's prepare: post_bootstrap.sh, packages, overlay, users, config.sh,
 * package removal; then images.sh (KIWI's create step), then the cleanup.
 */
export function driverScripts(model: ImageModel, files: DescriptionFiles): Record<BuildPhase, string> {
  return {
    update: script([
      [
        'sources',
        [
          ...ENTER,
          'apt-get -o Acquire::Languages=none update',
          `find ${CONTAINER_APT_LISTS} -maxdepth 1 -type f -delete`,
          `find /var/lib/apt/lists -maxdepth 1 -type f ! -name lock -exec cp -p -t ${CONTAINER_APT_LISTS}/ {} +`,
        ],
      ],
    ]),
    packages: script(packagesSteps(model, files), {
      before: ENTER,
      // The layer keeps what the packages made, not the build's inputs: the next phase gets them again.
      after: ['rm -rf /image /.profile /.kconfig'],
    }),
    image: script(imageSteps(model, files), { before: ENTER }),
  };
}

/** What every phase starts with: the container's apt sources and KIWI's script environment. */
const ENTER = [`cp ${CONTAINER_INPUT}/sources.list /etc/apt/sources.list`, `cp ${CONTAINER_INPUT}/profile /.profile`, `cp ${CONTAINER_INPUT}/kconfig /.kconfig`, 'mkdir -p /image'];

type Step = [ContainerStep, string[]];

function packagesSteps(model: ImageModel, files: DescriptionFiles): Step[] {
  const { packages } = model;
  const install = [...new Set([...packages.image, ...packages.type])];
  const noRecommends = packages.imageRecommends ? '' : ' --no-install-recommends';
  const aptGet = `apt-get -y${noRecommends} -o APT::Keep-Downloaded-Packages=true -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold`;
  // The bootstrap layer is as old as its first build: what the repositories updated since
  // is upgraded first, so an image is as current as the repositories are.
  const commands = ['upgrade --with-new-pkgs', ...(install.length > 0 ? [`install ${install.map(q).join(' ')}`] : [])];
  const steps: Step[] = [];
  if (files.postBootstrap) steps.push(['post-bootstrap', runScript('post_bootstrap.sh')]);
  steps.push([
    'packages',
    [
      // The download cache is shared by the builds running at once, and apt locks it and
      // does not wait: the downloads take turns. The install then reads only what is
      // there (--no-download), so it needs no lock of the cache and builds install at once.
      ...commands.map((command) => `flock ${CONTAINER_APT_ARCHIVES}/.kiwi-lock ${aptGet} ${command} --download-only`),
      // A kernel's hook makes an initramfs and initramfs-tools' trigger makes it again,
      // minutes each under emulation: INITRD=No stops the hook, and no initramfs means
      // the trigger has none to update. One is made once every package is in; INITRD=No
      // also kept the kernel from linking /initrd.img, so its links are made again.
      ...commands.map((command) => `INITRD=No ${aptGet} ${command} --no-download -o Debug::NoLocking=true`),
      'if command -v update-initramfs >/dev/null && command -v linux-version >/dev/null; then',
      '  for version in $(linux-version list); do',
      '    [ -e "/boot/initrd.img-$version" ] && continue',
      '    update-initramfs -c -k "$version"',
      '    if command -v linux-update-symlinks >/dev/null; then linux-update-symlinks upgrade "$version" "/boot/vmlinuz-$version"; fi',
      '  done',
      'fi',
      markUsedDownloads(CONTAINER_APT_ARCHIVES),
    ],
  ]);
  return steps;
}

function imageSteps(model: ImageModel, files: DescriptionFiles): Step[] {
  const { packages, preferences } = model;
  const steps: Step[] = [];
  const archives = [...packages.bootstrapArchives, ...packages.imageArchives];
  const fileEntries = [...packages.bootstrapFiles, ...packages.imageFiles];
  if (archives.length > 0 || fileEntries.length > 0) {
    steps.push([
      'archives',
      [
        ...archives.flatMap((archive) => [`mkdir -p ${q(archive.targetDir)}`, `tar -C ${q(archive.targetDir)} -xf ${q(`${CONTAINER_DESCRIPTION}/${archive.name}`)} --keep-directory-symlink --no-overwrite-dir`]),
        ...fileEntries.flatMap((file) => {
          const target = file.target ?? `/${file.name}`;
          return [
            `mkdir -p "$(dirname ${q(target)})"`,
            `cp -a --no-preserve=ownership ${q(`${CONTAINER_DESCRIPTION}/${file.name}`)} ${q(target)}`,
            ...(file.owner ? [`chown ${q(file.owner)} ${q(target)}`] : []),
            ...(file.permissions ? [`chmod ${q(file.permissions)} ${q(target)}`] : []),
          ];
        }),
      ],
    ]);
  }
  const overlays = [...(files.rootDir ? ['root'] : []), ...files.profileDirs];
  if (overlays.length > 0 || files.rootTar) {
    steps.push([
      'overlay',
      [
        'set -o pipefail',
        ...overlays.map((dir) => `tar -C ${q(`${CONTAINER_DESCRIPTION}/${dir}`)} -cf - . | tar -C / -xf - --keep-directory-symlink --no-overwrite-dir --no-same-owner`),
        ...(files.rootTar ? [`tar -C / -xf ${CONTAINER_DESCRIPTION}/root.tar.gz --keep-directory-symlink --no-overwrite-dir`] : []),
      ],
    ]);
  }
  const setup: string[] = [];
  if (preferences.timezone) {
    setup.push(`ln -sf ${q(`/usr/share/zoneinfo/${preferences.timezone}`)} /etc/localtime`, `echo ${q(preferences.timezone)} > /etc/timezone`);
  }
  if (preferences.locales[0]) setup.push(`echo ${q(`LANG=${preferences.locales[0]}.UTF-8`)} > /etc/default/locale`);
  if (model.users.length > 0) setup.push(`. ${CONTAINER_INPUT}/users.sh`);
  if (setup.length > 0) steps.push(['setup', setup]);
  if (files.config) steps.push(['config', runScript('config.sh')]);
  if (packages.uninstall.length > 0 || packages.delete.length > 0) {
    steps.push([
      'uninstall',
      [
        ...(packages.uninstall.length > 0 ? [`apt-get purge -y --auto-remove ${packages.uninstall.map(q).join(' ')}`] : []),
        // delete: forced, dependencies ignored (KIWI's <packages type="delete">); absent ones skipped.
        ...packages.delete.map((name) => `if dpkg -s ${q(name)} >/dev/null 2>&1; then dpkg --purge --force-depends --force-remove-essential ${q(name)}; fi`),
      ],
    ]);
  }
  if (files.images) steps.push(['images', runScript('images.sh')]);
  steps.push([
    'clean',
    [
      `cp ${CONTAINER_INPUT}/image-sources.list /etc/apt/sources.list`,
      'rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old /var/lib/dpkg/*-old',
      'mkdir -p /var/lib/apt/lists/partial',
      'rm -rf /image /.profile /.kconfig',
    ],
  ]);
  return steps;
}

/**
 * One phase's script: `before` (unmarked: its failure is the phase's), the steps between
 * markers, then `after` (unmarked).
 */
function script(steps: Step[], around: { before?: string[]; after?: string[] } = {}): string {
  const fn = (name: string, commands: string[]) => [`${name}() {`, ...commands.map((line) => `    ${line}`), '}'];
  const unmarked = (name: string, commands: string[] | undefined) => (commands ? { define: fn(name, commands), call: [`quiet ${name}`] } : { define: [], call: [] });
  const before = unmarked('before_steps', around.before);
  const after = unmarked('after_steps', around.after);
  return [
    '#!/bin/bash',
    '# kiwi build: the steps run in a build container (generated; see src/builder/steps/driver-script.ts)',
    'exec 2>&1',
    'set -u',
    'export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8',
    '# The shared download cache is not pruned while this container runs (apt-archives.ts).',
    ...holdDownloadsShared(CONTAINER_APT_ARCHIVES),
    'quiet() {',
    '    ( set -e; "$@" )',
    '    local rc=$?',
    '    if [ "$rc" -ne 0 ]; then exit "$rc"; fi',
    '}',
    'step() {',
    '    local id=$1; shift',
    '    echo "::kiwi-step $id start"',
    '    ( set -e; "$@" )',
    '    local rc=$?',
    '    if [ "$rc" -ne 0 ]; then echo "::kiwi-step $id failed $rc"; exit "$rc"; fi',
    '    echo "::kiwi-step $id done"',
    '}',
    ...before.define,
    ...after.define,
    ...steps.flatMap(([id, commands]) => fn(`step_${id.replace(/-/g, '_')}`, commands)),
    ...before.call,
    ...steps.map(([id]) => `step ${id} step_${id.replace(/-/g, '_')}`),
    ...after.call,
    '',
  ].join('\n');
}

/** KIWI copies a script to /image/NAME and runs it with bash from /. */
function runScript(name: string): string[] {
  return [`cp ${q(`${CONTAINER_DESCRIPTION}/${name}`)} /image/${name}`, 'cd /', `bash /image/${name}`];
}
