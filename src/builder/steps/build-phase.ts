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
import { makeAptListsLayer } from './apt-lists-layer.js';
import { containerRepoPath, containerSourcesList, imageSourcesList } from './apt-sources.js';
import { CONTAINER_APT_ARCHIVES, CONTAINER_APT_LISTS, CONTAINER_DESCRIPTION, CONTAINER_INPUT, CONTAINER_STEPS, driverScripts, STEP_MARKER, type BuildPhase, type ContainerStep, type DescriptionFiles } from './driver-script.js';
import { KCONFIG } from './kconfig.js';
import { usersScript } from './users.js';

export interface BuildPhaseOptions {
  model: ImageModel;
  phase: BuildPhase;
  /** The container's read-only lower layers, top first (the packages layer, the bootstrap layer). */
  layers: string[];
  /** Where writeBuildInputs wrote the build's inputs (bound read-only into the container). */
  inputDir: string;
  /** The shared apt download cache. */
  aptArchives: string;
  /** This build's apt index files (apt-lists.ts): a layer of the container, and bound where the update phase writes its new ones. */
  aptLists: string;
  /** The runtime's state root: the containers' upper layers live there (the build cache, so a saved upper is a rename). */
  stateRoot: string;
  /** On success, move the upper layer here (the packages layer). */
  saveUpperDir?: string;
  /** On success, save the merged tree here (must not exist yet). */
  commitDir?: string;
  /** On success, the runtime runs this on the merged tree (read-only), shown as this build step. */
  export?: { argv: string[]; step: { id: string; message: string } };
  /** On failure, save the merged tree here, to debug it. */
  failedRootDir?: string;
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

/** Writes what the build's containers read at CONTAINER_INPUT: the phases' scripts, /.profile, /.kconfig, users, sources. */
export function writeBuildInputs(model: ImageModel, inputDir: string, files: DescriptionFiles): Record<BuildPhase, string> {
  fs.mkdirSync(inputDir, { recursive: true });
  const write = (name: string, text: string) => fs.writeFileSync(path.join(inputDir, name), text);
  const scripts = driverScripts(model, files);
  for (const [phase, text] of Object.entries(scripts)) write(`${phase}.sh`, text);
  write('profile', renderKiwiProfile(model));
  write('kconfig', KCONFIG);
  write('users.sh', usersScript(model.users));
  write('sources.list', containerSourcesList(model.repositories));
  write('image-sources.list', imageSourcesList(model.repositories));
  return scripts;
}

/**
 * Runs one phase of the build (driver-script.ts) in a container over the given layers; its
 * markers become build steps (start/done with elapsed time), its other output goes to the
 * build log, and a failed step is a BuildStepError with the log's tail. Returns the
 * container's peak memory in bytes (null without cgroup accounting).
 */
export async function runBuildPhase(options: BuildPhaseOptions): Promise<number | null> {
  const { model, log } = options;
  fs.mkdirSync(path.join(options.aptArchives, 'partial'), { recursive: true });
  const listsLayer = `${options.aptLists}-layer`;
  makeAptListsLayer(listsLayer, options.aptLists, options.layers);
  const binds: BindMount[] = [
    { source: options.inputDir, target: CONTAINER_INPUT, readOnly: true },
    { source: model.descriptionDir, target: CONTAINER_DESCRIPTION, readOnly: true },
    { source: options.aptArchives, target: CONTAINER_APT_ARCHIVES, readOnly: false },
    ...(options.phase === 'update' ? [{ source: options.aptLists, target: CONTAINER_APT_LISTS, readOnly: false }] : []),
    ...model.repositories.flatMap((repo, index) => (repo.localPath ? [{ source: repo.localPath, target: containerRepoPath(repo, index), readOnly: true }] : [])),
  ];
  // The runtime commits the tree after a success, or after a failure when asked to keep it.
  const commitDir = options.commitDir ?? options.failedRootDir;
  const spec: ContainerSpec = {
    root: { kind: 'layers', paths: [listsLayer, ...options.layers] },
    argv: ['/bin/bash', `${CONTAINER_INPUT}/${options.phase}.sh`],
    limits: options.limits ?? {},
    network: 'box',
    hostname: model.name.slice(0, 63),
    binds,
    ...(commitDir ? { commitDir } : {}),
    ...(options.failedRootDir ? { commitOnFailure: true } : {}),
    ...(options.saveUpperDir ? { saveUpperDir: options.saveUpperDir } : {}),
    ...(options.export ? { exportArgv: options.export.argv } : {}),
    workdir: '/',
  };
  const tracker = new StepTracker(log, options.export?.step);
  const reporter = new Reporter((event) => tracker.onEvent(event));
  const result = await runContainer(spec, { reporter, output: 'events', stateRoot: options.stateRoot, ...(options.signal ? { signal: options.signal } : {}) }).finally(() =>
    fs.rmSync(listsLayer, { recursive: true, force: true }),
  );
  if (result.exitCode !== 0) {
    const step = tracker.failedStep ?? tracker.current ?? options.phase;
    tracker.finishOpen(result.exitCode);
    throw new BuildStepError(step, result.exitCode, log.lastLines(), log.file);
  }
  return result.usage.memoryPeakBytes;
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
