import type { ImageModel } from './model.js';
import type { Problem } from './problems.js';

/**
 * Rules across fields of a resolved image (KIWI's schematron rules and runtime checks
 * for the supported subset). Returns every problem; an empty list means buildable.
 */
export function validateImage(model: ImageModel): Problem[] {
  return [...typeRules(model), ...containerRules(model), ...repositoryRules(model), ...packageRules(model), ...userRules(model)];
}

function typeRules({ type }: ImageModel): Problem[] {
  const problems: Problem[] = [];
  if (type.image === 'oem') {
    if (!type.filesystem) problems.push({ where: type.xmlPath, message: 'an oem type needs filesystem= (ext4, xfs, ...)' });
    return problems;
  }
  // filesystem, firmware, kernelcmdline and <bootloader> describe a bootable disk only.
  const diskOnly: [string, unknown][] = [
    ['filesystem=', type.filesystem],
    ['firmware=', type.firmware],
    ['kernelcmdline=', type.kernelCmdline],
  ];
  for (const [what, value] of diskOnly) {
    if (value !== undefined) problems.push({ where: type.xmlPath, message: `${what} is only for oem types, not ${type.image}` });
  }
  if (type.bootloader) {
    problems.push({ where: type.bootloader.xmlPath, message: `a ${type.image} type has no bootloader: <bootloader> is only for oem types` });
  }
  if (type.size) problems.push({ where: type.size.xmlPath, message: `a ${type.image} type has no disk: <size> is only for oem types` });
  return problems;
}

function containerRules({ type }: ImageModel): Problem[] {
  const config = type.containerConfig;
  if (!config) return [];
  if (type.image !== 'docker' && type.image !== 'oci') {
    return [{ where: config.xmlPath, message: `<containerconfig> is only for docker and oci types, not ${type.image}` }];
  }
  const problems: Problem[] = [];
  if (!/^[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/.test(config.name)) {
    problems.push({ where: config.xmlPath, message: `container name "${config.name}" is not a valid OCI repository name (lower case, digits, . _ - /)` });
  }
  for (const volume of config.volumes) {
    if (!volume.startsWith('/')) problems.push({ where: config.xmlPath, message: `volume "${volume}" must be an absolute path` });
  }
  if (config.workingDir !== undefined && !config.workingDir.startsWith('/')) {
    problems.push({ where: config.xmlPath, message: `workingdir "${config.workingDir}" must be an absolute path` });
  }
  return problems;
}

function repositoryRules({ repositories }: ImageModel): Problem[] {
  if (repositories.length === 0) {
    return [{ where: '/image', message: 'no repository for the selected profiles: add a <repository> or --add-repo' }];
  }
  const problems: Problem[] = [];
  // mmdebstrap (like KIWI's debootstrap) bootstraps from a suite, so one repository must name it.
  if (!repositories.some((repo) => repo.distribution !== undefined)) {
    problems.push({ where: repositories[0]?.xmlPath ?? '/image', message: 'apt needs a repository with distribution= (e.g. bookworm) to bootstrap from' });
  }
  repositories.forEach((repo, index) => {
    const first = repositories.findIndex((other) => other.alias === repo.alias);
    if (first !== index) {
      problems.push({ where: repo.xmlPath, message: `repository alias "${repo.alias}" is used twice (first at ${repositories[first]?.xmlPath})` });
    }
  });
  return problems;
}

function packageRules({ packages }: ImageModel): Problem[] {
  if (packages.bootstrap.length > 0) return [];
  return [{ where: '/image', message: 'no bootstrap packages: apt needs <packages type="bootstrap"> with at least one <package>' }];
}

function userRules({ users }: ImageModel): Problem[] {
  return users.flatMap((user, index) => {
    const first = users.findIndex((other) => other.name === user.name);
    if (first === index) return [];
    return [{ where: user.xmlPath, message: `user "${user.name}" is defined twice (first at ${users[first]?.xmlPath})` }];
  });
}
