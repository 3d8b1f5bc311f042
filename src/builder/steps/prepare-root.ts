import fs from 'node:fs';
import path from 'node:path';
import { formatDuration } from '../../common/units.js';
import type { RuntimeEvent } from '../../protocol/events.js';
import { runContainer } from '../../runtime/container.js';
import { Reporter } from '../../runtime/reporter.js';
import type { BindMount, ContainerSpec, ResourceLimits } from '../../runtime/spec.js';
import type { BuildLog } from '../build-log.js';
import { BuildStepError } from '../build-error.js';
import type { ImageModel } from '../description/model.js';
import { renderKiwiProfile } from '../description/kiwi-env.js';
import { containerRepoPath, containerSourcesList, imageSourcesList } from './apt-sources.js';
import { CONTAINER_APT_ARCHIVES, CONTAINER_APT_LISTS, CONTAINER_DESCRIPTION, CONTAINER_INPUT, CONTAINER_STEPS, driverScript, STEP_MARKER, type ContainerStep, type DescriptionFiles } from './driver-script.js';
import { KCONFIG } from './kconfig.js';
import { usersScript } from './users.js';

export interface PrepareRootOptions {
  model: ImageModel;
  /** The bootstrap layer's root: the container's read-only lower layer. */
  bootstrapRoot: string;
  /** Where the build's inputs are written (bound read-only into the container). */
  inputDir: string;
  /** The shared apt download cache. */
  aptArchives: string;
  /** This build's apt index files (apt-lists.ts), bound where the sources step looks for them. */
  aptLists: string;
  /** Where the finished root tree is committed (must not exist yet), unless `export` takes it. */
  rootDir: string;
  /** Instead of committing: the runtime runs this on the merged tree (read-only), shown as this build step. */
  export?: { argv: string[]; step: { id: string; message: string } };
  /** Commit the tree to rootDir even when a step fails, to debug it. */
  keepFailedRoot?: boolean;
  /** cgroup limits of the build's container (a build packed with others in one box). */
  limits?: ResourceLimits;
  log: BuildLog;
  signal?: AbortSignal;
}

/** What is beside the description, for the driver script. */
export function findDescriptionFiles(model: ImageModel): DescriptionFiles {
  const at = (name: string) => path.join(model.descriptionDir, name);
  const isFile = (name: string) => fs.existsSync(at(name)) && fs.statSync(at(name)).isFile();
  const isDir = (name: string) => fs.existsSync(at(name)) && fs.statSync(at(name)).isDirectory();
  return {
    postBootstrap: isFile('post_bootstrap.sh'),
    config: isFile('config.sh'),
    images: isFile('images.sh'),
    rootDir: isDir('root'),
    rootTar: isFile('root.tar.gz'),
    profileDirs: model.profiles.filter((profile) => profile !== 'root' && isDir(profile)),
  };
}

/**
 * Builds the image's root tree: one container over the bootstrap layer runs the driver
 * script (driver-script.ts); its markers become build steps (start/done with elapsed
 * time); on success the runtime commits the merged tree to `rootDir`, or runs the export
 * on it. The container's output goes to the build log; a failed step is a BuildStepError
 * with its tail. Returns the container's peak memory in bytes (null without cgroup
 * accounting).
 */
export async function prepareRoot(options: PrepareRootOptions): Promise<number | null> {
  const { model, log } = options;
  writeInputs(options);
  const binds: BindMount[] = [
    { source: options.inputDir, target: CONTAINER_INPUT, readOnly: true },
    { source: model.descriptionDir, target: CONTAINER_DESCRIPTION, readOnly: true },
    { source: options.aptArchives, target: CONTAINER_APT_ARCHIVES, readOnly: false },
    { source: options.aptLists, target: CONTAINER_APT_LISTS, readOnly: false },
    ...model.repositories.flatMap((repo, index) => (repo.localPath ? [{ source: repo.localPath, target: containerRepoPath(repo, index), readOnly: true }] : [])),
  ];
  const spec: ContainerSpec = {
    root: { kind: 'dir', path: options.bootstrapRoot },
    argv: ['/bin/bash', `${CONTAINER_INPUT}/driver.sh`],
    limits: options.limits ?? {},
    network: 'box',
    hostname: model.name.slice(0, 63),
    binds,
    // With an export, the tree is committed only to keep a failed one.
    ...(!options.export || options.keepFailedRoot ? { commitDir: options.rootDir } : {}),
    ...(options.keepFailedRoot ? { commitOnFailure: true } : {}),
    ...(options.export ? { exportArgv: options.export.argv } : {}),
    workdir: '/',
  };
  const tracker = new StepTracker(log, options.export?.step);
  const reporter = new Reporter((event) => tracker.onEvent(event));
  const result = await runContainer(spec, { reporter, output: 'events', ...(options.signal ? { signal: options.signal } : {}) });
  if (result.exitCode !== 0) {
    const step = tracker.failedStep ?? tracker.current ?? 'prepare';
    tracker.finishOpen(result.exitCode);
    throw new BuildStepError(step, result.exitCode, log.lastLines(), log.file);
  }
  return result.usage.memoryPeakBytes;
}

function writeInputs(options: PrepareRootOptions): void {
  const { model, inputDir } = options;
  fs.mkdirSync(inputDir, { recursive: true });
  fs.mkdirSync(path.join(options.aptArchives, 'partial'), { recursive: true });
  const write = (name: string, text: string) => fs.writeFileSync(path.join(inputDir, name), text);
  write('driver.sh', driverScript(model, findDescriptionFiles(model)));
  write('profile', renderKiwiProfile(model));
  write('kconfig', KCONFIG);
  write('users.sh', usersScript(model.users));
  write('sources.list', containerSourcesList(model.repositories));
  write('image-sources.list', imageSourcesList(model.repositories));
}

/** Turns the driver's marker lines into step events and its other lines into the log. */
class StepTracker {
  current: ContainerStep | undefined;
  failedStep: ContainerStep | undefined;
  private started = 0;

  constructor(
    private readonly log: BuildLog,
    /** The build step the runtime's export is shown as. */
    private readonly exportStep?: { id: string; message: string },
  ) {}

  onEvent(event: RuntimeEvent): void {
    if (event.type === 'log' && event.stream) {
      const marker = STEP_MARKER.exec(event.message);
      if (marker) return this.onMarker(marker[1] as ContainerStep, marker[2] as 'start' | 'done' | 'failed', Number(marker[3] ?? 0));
      this.log.output(event.message, this.current ?? 'prepare');
      return;
    }
    // The runtime's own steps (preflight, run, commit...) go to the log, shown with --debug.
    if (event.type === 'step') {
      this.log.emit({ type: 'log', level: 'debug', message: `runtime ${event.id} ${event.state}${event.message ? `: ${event.message}` : ''}`, step: 'container' });
      const shown = event.id === 'commit' ? { id: 'commit', message: 'save the root tree' } : event.id === 'export' ? this.exportStep : undefined;
      if (shown && event.state === 'start') {
        this.started = Date.now();
        this.log.emit({ type: 'step', id: shown.id, state: 'start', message: shown.message });
      } else if (shown) {
        const message = event.state === 'done' ? formatDuration((Date.now() - this.started) / 1000) : (event.message ?? '');
        this.log.emit({ type: 'step', id: shown.id, state: event.state, message });
      }
      return;
    }
    if (event.type === 'log' && event.level === 'warn') return this.log.emit(event);
    this.log.emit({ ...event, ...(event.type === 'log' ? { level: 'debug' as const } : {}) });
  }

  private onMarker(id: ContainerStep, state: 'start' | 'done' | 'failed', code: number): void {
    if (state === 'start') {
      this.current = id;
      this.started = Date.now();
      this.log.resetTail();
      this.log.emit({ type: 'step', id, state: 'start', message: CONTAINER_STEPS[id] ?? id });
      return;
    }
    const elapsed = formatDuration((Date.now() - this.started) / 1000);
    if (state === 'failed') {
      this.failedStep = id;
      this.log.emit({ type: 'step', id, state: 'failed', message: `exit code ${code} after ${elapsed}` });
    } else {
      this.log.emit({ type: 'step', id, state: 'done', message: elapsed });
    }
    this.current = undefined;
  }

  /** A step that started and never ended (the container was killed): report it failed. */
  finishOpen(exitCode: number): void {
    if (this.current && !this.failedStep) {
      this.failedStep = this.current;
      this.log.emit({ type: 'step', id: this.current, state: 'failed', message: `exit code ${exitCode}` });
    }
  }
}
