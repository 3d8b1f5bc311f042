import type { ContainerConfig } from '../description/model.js';

/**
 * The OCI image config (image-spec config.md) for a `<containerconfig>`, as KIWI's umoci
 * path sets it: author from maintainer, User, WorkingDir, Entrypoint, Cmd (KIWI's
 * subcommand; /bin/bash when neither entrypoint nor subcommand is given), Env, Labels,
 * ExposedPorts ("80" means 80/tcp), Volumes and one history entry. Pure.
 */
export interface OciImageConfig {
  created: string;
  author?: string;
  architecture: string;
  os: 'linux';
  config: {
    User?: string;
    WorkingDir?: string;
    Entrypoint?: string[];
    Cmd?: string[];
    Env: string[];
    Labels?: Record<string, string>;
    ExposedPorts?: Record<string, Record<string, never>>;
    Volumes?: Record<string, Record<string, never>>;
  };
  rootfs: { type: 'layers'; diff_ids: string[] };
  history: { created: string; created_by: string; author?: string; comment?: string }[];
}

/** KIWI's default subcommand for a base image (Defaults.get_default_container_subcommand). */
export const DEFAULT_SUBCOMMAND = ['/bin/bash'];

/** Used when the description sets no PATH: the one Debian's own images carry. */
export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function ociImageConfig(container: ContainerConfig, input: { debianArch: string; diffIds: string[]; created: string }): OciImageConfig {
  const env = container.environment.map((entry) => `${entry.name}=${entry.value}`);
  if (!container.environment.some((entry) => entry.name === 'PATH')) env.unshift(DEFAULT_PATH);
  const config: OciImageConfig['config'] = { Env: env };
  if (container.user !== undefined) config.User = container.user;
  if (container.workingDir !== undefined) config.WorkingDir = container.workingDir;
  const noCommand = container.entrypoint === undefined && container.cmd === undefined;
  if (container.entrypoint !== undefined && container.entrypoint.length > 0) config.Entrypoint = container.entrypoint;
  if (noCommand) config.Cmd = DEFAULT_SUBCOMMAND;
  else if (container.cmd !== undefined && container.cmd.length > 0) config.Cmd = container.cmd;
  if (container.labels.length > 0) config.Labels = Object.fromEntries(container.labels.map((label) => [label.name, label.value]));
  if (container.exposedPorts.length > 0) config.ExposedPorts = Object.fromEntries(container.exposedPorts.map((port) => [port.includes('/') ? port : `${port}/tcp`, {}]));
  if (container.volumes.length > 0) config.Volumes = Object.fromEntries(container.volumes.map((volume) => [volume, {}]));
  const history: OciImageConfig['history'][number] = { created: input.created, created_by: container.history.createdBy };
  const historyAuthor = container.history.author ?? container.maintainer;
  if (historyAuthor !== undefined) history.author = historyAuthor;
  if (container.history.comment !== undefined) history.comment = container.history.comment;
  return {
    created: input.created,
    ...(container.maintainer !== undefined ? { author: container.maintainer } : {}),
    architecture: input.debianArch,
    os: 'linux',
    config,
    rootfs: { type: 'layers', diff_ids: input.diffIds },
    history: [history],
  };
}

/** "name:tag" references of the image: the main one, then additionalnames (KIWI fills a missing part). */
export function imageReferences(container: ContainerConfig): string[] {
  const main = `${container.name}:${container.tag}`;
  const more = container.additionalNames.map((entry) => {
    const [name, tag] = entry.includes(':') ? [entry.slice(0, entry.indexOf(':')), entry.slice(entry.indexOf(':') + 1)] : [entry, ''];
    return `${name || container.name}:${tag || container.tag}`;
  });
  return [...new Set([main, ...more])];
}

/** The creation time: SOURCE_DATE_EPOCH when set (reproducible builds), else now; RFC 3339. */
export function creationTime(env: NodeJS.ProcessEnv = process.env, now: Date = new Date()): string {
  const epoch = env.SOURCE_DATE_EPOCH;
  const date = epoch && /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000) : now;
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
