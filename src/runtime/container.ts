import fs from 'node:fs';
import { EnvironmentError, UsageError } from '../common/errors.js';
import { processIdentity } from '../common/process-identity.js';
import type { ContainerUsage, ResultEvent } from '../protocol/events.js';
import { createCgroup, isCgroup, type ContainerCgroup } from './cgroup.js';
import { extractImage } from './image.js';
import { describeMount, planMounts } from './mounts-plan.js';
import { preflight } from './preflight.js';
import { formatLimit } from './quantities.js';
import type { Reporter } from './reporter.js';
import { checkOverlayPath } from './run-options.js';
import { buildCommitArgv, buildExportArgv, describeNamespaces, type SandboxPlan } from './sandbox-argv.js';
import { runSandbox } from './sandbox-process.js';
import { hasLimits, type ContainerSpec } from './spec.js';
import { createRun, defaultStateRoot, writeRunState } from './state-dir.js';
import { cleanStaleRuns, teardownRun } from './teardown.js';
import { runTool } from './tools.js';

/**
 * Runs one command in a container and returns its result: the runtime's use case, the
 * same natively and in a box. Order: check the machine, clean stale runs, create the
 * run's state, layers and cgroup, run, read the accounting, commit, tear down — the
 * teardown on every path, interrupted or not.
 */
export interface RunContainerOptions {
  reporter: Reporter;
  signal?: AbortSignal;
  /** "inherit": the command writes to kiwi's stdout/stderr; "events": as log events. */
  output: 'inherit' | 'events';
  /** Where per-run state lives (state-dir.ts); default by user. */
  stateRoot?: string;
  /** Use a user namespace; default: when not root. */
  rootless?: boolean;
}

const NO_USAGE: ContainerUsage = { memoryPeakBytes: null, cpuUsec: null, cpuUserUsec: null, cpuSystemUsec: null, oomKills: 0, pidsLimitHits: 0 };

export async function runContainer(spec: ContainerSpec, options: RunContainerOptions): Promise<ResultEvent> {
  const { reporter } = options;
  const rootless = options.rootless ?? process.getuid?.() !== 0;
  const stateRoot = options.stateRoot ?? defaultStateRoot();
  await reporter.step('preflight', rootless ? 'rootless: user namespace' : 'as root', () => preflight(rootless, reporter));
  await reporter.step('cleanup', `stale runs in ${stateRoot}`, () => cleanStaleRuns(stateRoot, reporter));
  checkInputs(spec);
  if (rootless) for (const dir of rootDirs(spec)) warnForeignOwner(dir, reporter);
  const { state, dirs } = createRun(stateRoot, rootless);
  checkOverlayPath(dirs.dir, 'the run state directory (KIWI_STATE_DIR)');
  reporter.debug(`run ${state.id}: state ${dirs.stateFile}, layers in ${dirs.dir}`, 'prepare');
  try {
    const root = spec.root;
    const lower = root.kind === 'image' ? dirs.lower : rootDirs(spec).join(':');
    if (root.kind === 'image') {
      await reporter.step('image', `unpack ${root.path}`, () => extractImage(root.path, dirs.lower, rootless, reporter, options.signal));
    }
    const cgroup = await reporter.step('cgroup', 'limits and accounting', () => setUpCgroup(spec, state.id, rootless, reporter));
    state.cgroupDirs = cgroup?.dirs ?? [];
    writeRunState(dirs, state);
    const plan: SandboxPlan = {
      userns: rootless,
      cgroupProcs: cgroup?.procsFiles ?? [],
      overlay: { lower, upper: dirs.upper, work: dirs.work, merged: dirs.merged },
      mounts: planMounts({ merged: dirs.merged, binds: spec.binds, resolvConf: '/etc/resolv.conf' }),
      hostname: spec.hostname,
      network: spec.network,
      workdir: spec.workdir,
      env: containerEnv(spec.hostname),
      argv: spec.argv,
      statusFd: 3,
    };
    for (const line of describeNamespaces(plan)) reporter.debug(`namespace: ${line}`, 'run');
    reporter.debug(`mount overlay on ${dirs.merged} (lower ${lower}, upper ${dirs.upper}), private to the container`, 'run');
    for (const entry of plan.mounts) reporter.debug(`mount: ${describeMount(entry)}`, 'run');
    const outcome = await reporter.step('run', spec.argv.join(' '), () =>
      runSandbox({
        plan,
        output: options.output,
        reporter,
        ...(options.signal ? { signal: options.signal } : {}),
        onContainerPid: (pid) => {
          state.containerPid = processIdentity(pid);
          if (state.containerPid) writeRunState(dirs, state);
        },
        onSample: () => cgroup?.sample(),
      }),
    );
    const usage = cgroup?.readUsage() ?? NO_USAGE;
    const result: ResultEvent = { type: 'result', exitCode: outcome.exitCode, wallMs: outcome.wallMs, usage };
    if (outcome.signal) result.signal = outcome.signal;
    const killedBy = describeKill(spec, usage);
    if (killedBy) result.killedBy = killedBy;
    if (outcome.exitCode === 0 && spec.saveUpperDir) {
      const dest = spec.saveUpperDir;
      await reporter.step('save-upper', `move the upper layer to ${dest}`, async () => {
        fs.renameSync(dirs.upper, dest);
      });
    } else if (spec.exportArgv && outcome.exitCode === 0) {
      const argv = spec.exportArgv;
      await reporter.step('export', 'a command on the merged root, mounted read-only', () => runTool(buildExportArgv(plan.overlay, rootless, argv), { reporter, step: 'export', ...(options.signal ? { signal: options.signal } : {}) }));
    } else if (spec.commitDir) {
      if (outcome.exitCode === 0 || spec.commitOnFailure) {
        const dest = spec.commitDir;
        await reporter.step('commit', `save the merged root to ${dest}`, async () => {
          fs.mkdirSync(dest, { recursive: true });
          await runTool(buildCommitArgv(plan.overlay, rootless, dest), { reporter, step: 'commit', ...(options.signal ? { signal: options.signal } : {}) });
        });
        result.committed = dest;
      } else {
        reporter.warn(`not committed to ${spec.commitDir}: the command failed (exit ${outcome.exitCode})`, 'commit');
      }
    }
    return result;
  } finally {
    const problems = await reporter.step('teardown', `run ${state.id}`, () => teardownRun(stateRoot, state, reporter));
    for (const problem of problems) reporter.warn(`teardown: ${problem}`, 'teardown');
  }
}

async function setUpCgroup(spec: ContainerSpec, id: string, rootless: boolean, reporter: Reporter): Promise<ContainerCgroup | undefined> {
  const cgroup = createCgroup({ id, limits: spec.limits, rootless, reporter });
  if (isCgroup(cgroup)) {
    reporter.debug(cgroup.description, 'cgroup');
    return cgroup;
  }
  if (hasLimits(spec.limits)) {
    throw new EnvironmentError(`resource limits cannot be applied: ${cgroup.unavailable}`, {
      hint: `${cgroup.hint}; or drop --memory, --swap, --cpus, --pids and --cpuset`,
    });
  }
  reporter.warn(`running without a cgroup, so without accounting: ${cgroup.unavailable}`, 'cgroup');
  return undefined;
}

/** The line that says a limit stopped the command, as the issue words it. */
export function describeKill(spec: ContainerSpec, usage: ContainerUsage): string | undefined {
  const reasons: string[] = [];
  if (usage.oomKills > 0) {
    const limit = spec.limits.memoryBytes !== undefined ? formatLimit(spec.limits.memoryBytes) : 'the';
    reasons.push(`killed: memory limit ${limit} reached (${usage.oomKills} process${usage.oomKills === 1 ? '' : 'es'} OOM-killed)`);
  }
  if (usage.pidsLimitHits > 0) {
    reasons.push(`pids limit ${spec.limits.pids ?? ''} reached: ${usage.pidsLimitHits} fork${usage.pidsLimitHits === 1 ? '' : 's'} refused`);
  }
  return reasons.length > 0 ? reasons.join('; ') : undefined;
}

function containerEnv(hostname: string): Record<string, string> {
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/root',
    HOSTNAME: hostname,
    TERM: process.env.TERM ?? 'dumb',
    // The convention systemd and others read to know they run in a container.
    container: 'kiwi',
  };
}

/** The root's layer directories (none for an image, which is unpacked into the run). */
function rootDirs(spec: ContainerSpec): string[] {
  if (spec.root.kind === 'dir') return [spec.root.path];
  return spec.root.kind === 'layers' ? spec.root.paths : [];
}

function checkInputs(spec: ContainerSpec): void {
  for (const dir of rootDirs(spec)) {
    if (!isDirectory(dir)) throw new UsageError(`--root ${dir}: not a directory`);
    checkOverlayPath(dir, '--root');
  }
  if (spec.root.kind === 'layers' && spec.root.paths.length === 0) throw new UsageError('the container has no root layer');
  if (spec.saveUpperDir && fs.existsSync(spec.saveUpperDir)) throw new UsageError(`${spec.saveUpperDir}: exists; the upper layer is saved to a new directory`);
  for (const bind of spec.binds) {
    if (!fs.existsSync(bind.source)) throw new UsageError(`--bind ${bind.source}:${bind.target}: ${bind.source} does not exist`);
  }
  if (spec.commitDir && fs.existsSync(spec.commitDir) && (!isDirectory(spec.commitDir) || fs.readdirSync(spec.commitDir).length > 0)) {
    throw new UsageError(`--commit ${spec.commitDir}: exists and is not an empty directory`, { hint: 'give a new or empty directory' });
  }
}

/**
 * In a user namespace only the invoking user is mapped; files of other owners show as
 * nobody and even root inside cannot change them (overlayfs copy-up included).
 */
function warnForeignOwner(root: string, reporter: Reporter): void {
  const owner = fs.statSync(root).uid;
  if (owner !== process.getuid?.()) {
    reporter.warn(`--root ${root} belongs to uid ${owner}, which is not mapped in the user namespace: the container cannot change files it owns`, 'preflight');
  }
}

function isDirectory(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}
