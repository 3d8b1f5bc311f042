import { execa } from 'execa';
import fs from 'node:fs';
import { EnvironmentError } from '../common/errors.js';
import type { Reporter } from './reporter.js';
import { missingTool, TOOL_PATH } from './tools.js';

/**
 * Checks, before anything is created, that this machine can make containers the way
 * kiwi does, and says why not: a missing program, or (rootless) user namespaces that the
 * kernel or a security module forbids.
 */
export async function preflight(rootless: boolean, reporter: Reporter): Promise<void> {
  for (const program of ['bwrap', 'unshare', 'mount']) {
    if (!TOOL_PATH.split(':').some((dir) => isExecutable(`${dir}/${program}`))) throw missingTool(program);
  }
  if (!rootless) return;
  reporter.debug('probe: unshare --user --map-root-user --mount true', 'preflight');
  const probe = await execa('unshare', ['--user', '--map-root-user', '--mount', 'true'], {
    reject: false,
    stdin: 'ignore',
    extendEnv: false,
    env: { PATH: TOOL_PATH, LC_ALL: 'C' },
  });
  if (probe.exitCode !== 0) {
    throw new EnvironmentError(`rootless kiwi run needs a user namespace, and this user cannot create one: ${String(probe.stderr).trim() || `exit ${probe.exitCode}`}`, {
      hint: userNamespaceHint(),
    });
  }
}

/** The sysctl that forbids unprivileged user namespaces on this kernel, if one does. */
function userNamespaceHint(): string {
  const sysctls: Array<[string, string]> = [
    ['/proc/sys/kernel/unprivileged_userns_clone', '0'],
    ['/proc/sys/user/max_user_namespaces', '0'],
    ['/proc/sys/kernel/apparmor_restrict_unprivileged_userns', '1'],
  ];
  for (const [file, forbidding] of sysctls) {
    if (readTrimmed(file) === forbidding) {
      return `${file} is ${forbidding}; an administrator can change it with sysctl, or run kiwi run as root`;
    }
  }
  return 'run kiwi run as root, or ask an administrator to allow unprivileged user namespaces';
}

function readTrimmed(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
