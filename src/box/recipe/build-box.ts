import fs from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Arch } from '../../common/arch.js';
import { describeForeignExec, ensureForeignExec, HOST_BINFMT } from '../../common/binfmt.js';
import { rethrowDiskFull } from '../../common/errors.js';
import { acquireLock, type HeldLock } from '../../common/lock.js';
import { formatBytes } from '../../common/units.js';
import { ARCH_TEST, checkRequirements } from '../../vm/requirements.js';
import { BUNDLED_BOXES_DIR, type Catalog } from '../catalog.js';
import { ensureBox } from '../ensure-box.js';
import type { BoxManifest } from '../manifest.js';
import { readCurrent, type CachedVersion } from '../store.js';
import { assembleBox, writeBoxCopy } from './assemble-box.js';
import { boxVersion, recipeFileDigests, stageKeys, type StageKeys } from './build-keys.js';
import { buildInitramfs } from './initramfs.js';
import { extractKernel } from './kernel-extract.js';
import { bootstrapRootTarball } from './mmdebstrap.js';
import { fetchNodeTarball, installNode } from './node-binary.js';
import { loadRecipe, resolveArchRecipe, type ArchRecipe } from './recipe.js';
import { buildRootDisk } from './root-disk.js';
import { customiseTree, extractTree, requireRoot } from './root-tree.js';
import { BoxBuildError } from './run-tool.js';
import { buildDir, cachedStage, removeOlder } from './stage-cache.js';

export interface BoxBuildOptions {
  /** The box cache root (box/paths.ts cacheRoot()). */
  cacheRoot: string;
  catalog: Catalog;
  name: string;
  arch: Arch;
  /** Folder holding <name>/recipe.yaml; default: the bundled boxes/. */
  boxesDir?: string;
  /** Also write the box (files and box.json) here. */
  outputDir?: string;
  /** Rebuild every stage, reusing nothing. */
  force?: boolean;
  /** One-line notices worth keeping after the progress display is gone (a binfmt_misc registration). */
  onNotice?: (message: string) => void;
  signal?: AbortSignal;
}

export type StageId = 'rootfs' | 'node' | 'tree' | 'kernel' | 'initrd' | 'disk' | 'install';

export interface BoxBuildStage {
  id: StageId;
  title: string;
  /** Runs the stage; `output` shows progress lines. Resolves to a short outcome ("built", "cached"...). */
  run(output: (line: string) => void): Promise<string>;
}

export interface BoxBuildPlan {
  recipe: ArchRecipe;
  keys: StageKeys;
  /** The manifest version this build produces. */
  version: string;
  /** The cache already holds a box built from exactly this recipe (and --force was not given). */
  upToDate: boolean;
  /** In order; each may rely on the ones before it. */
  stages: BoxBuildStage[];
  /** Valid once every stage ran. */
  result(): BoxBuildResult;
  /** Releases the build lock and removes the work folders; call it whatever happened. */
  close(): Promise<void>;
}

export interface BoxBuildResult {
  status: 'built' | 'up-to-date';
  version: CachedVersion;
  manifest: BoxManifest;
  /** What each stage did. */
  stages: Partial<Record<StageId, string>>;
}

/**
 * Plans `kiwi box build NAME`: the recipe resolved, the stage keys computed, the build lock
 * held. Stages whose output for their key exists are reused; a box whose version is already
 * current in the cache is not rebuilt at all.
 */
export async function planBoxBuild(options: BoxBuildOptions): Promise<BoxBuildPlan> {
  const { cacheRoot, name, arch, signal } = options;
  const boxesDir = options.boxesDir ?? BUNDLED_BOXES_DIR;
  const recipe = resolveArchRecipe(loadRecipe(boxesDir, name), name, path.join(boxesDir, name), arch);
  const keys = stageKeys(recipe, await recipeFileDigests(recipe));
  const version = boxVersion(recipe, keys);
  const work = buildDir(cacheRoot, name, arch);
  await fs.mkdir(work, { recursive: true });
  const lock: HeldLock = await acquireLock(path.join(work, 'build.lock'), signal ? { signal } : {});
  const tree = path.join(work, 'tree');
  const out = path.join(work, 'out');
  const withSignal = signal ? { signal } : {};
  try {
    // We hold the lock: anything half-written here is from a build that died.
    for (const entry of await fs.readdir(work)) if (entry.includes('.part') || entry === 'tree' || entry === 'out') await fs.rm(path.join(work, entry), { recursive: true, force: true });
  } catch (error) {
    await lock.release();
    throw error;
  }

  const current = await readCurrent(cacheRoot, name, arch);
  const upToDate = !options.force && current?.verified === true && current.manifest.version === version;
  const force = options.force ?? false;
  const outcomes: BoxBuildResult['stages'] = {};
  const state: { rootfs?: string; nodeTarball?: string; kernel?: string; initrd?: string; disk?: string; result?: BoxBuildResult } = {};
  const kernelName = arch === 'x86_64' ? 'vmlinux' : 'Image';
  const stageDir = (stage: string, key: string): string => path.join(work, `${stage}-${key}`);
  const needsTree = async (): Promise<boolean> =>
    force || !(await exists(stageDir('kernel', keys.kernel))) || !(await exists(stageDir('initrd', keys.initrd))) || !(await exists(stageDir('disk', keys.disk)));

  const stage = (id: StageId, title: string, run: (output: (line: string) => void) => Promise<string>): BoxBuildStage => ({
    id,
    title,
    run: async (output) => {
      if (upToDate && id !== 'install') return (outcomes[id] = 'up to date');
      try {
        return (outcomes[id] = await run(output));
      } catch (error) {
        rethrowDiskFull(error, work);
      }
    },
  });

  const stages: BoxBuildStage[] = [
    stage('rootfs', `Debian ${recipe.suite} root (mmdebstrap, ${recipe.packages.length} packages)`, async (output) => {
      state.rootfs = path.join(work, `rootfs-${keys.rootfs}.tar`);
      let outcome = 'cached';
      if (force || !(await exists(state.rootfs))) {
        requireRoot();
        const foreign = await ensureForeignExec(arch, HOST_BINFMT, signal);
        const notice = describeForeignExec(arch, foreign);
        if (notice) output(notice);
        // A registration changes the host until reboot: worth a line that outlives the progress display.
        if (notice && foreign.status === 'registered') options.onNotice?.(notice);
        // mmdebstrap checks a foreign arch with arch-test; without it, kiwi's binfmt check above stands in.
        const skipQemuCheck = foreign.status !== 'native' && !checkRequirements([ARCH_TEST])[0]?.found;
        await bootstrapRootTarball(recipe, state.rootfs, { ...withSignal, onLine: output, skipQemuCheck });
        outcome = 'built';
      }
      await removeOlder(work, 'rootfs', path.basename(state.rootfs));
      return outcome;
    }),
    stage('node', `Node.js ${recipe.node.version} (${recipe.node.package})`, async (output) => {
      // A line a second at most: in a log each one stays (a chunk is 16 KiB, the tarball 50 MiB).
      let shown = 0;
      const fetched = await fetchNodeTarball(recipe.node, work, {
        ...withSignal,
        onProgress: (received, total) => {
          if (Date.now() - shown < 1000 && received !== total) return;
          shown = Date.now();
          output(`${formatBytes(received)}${total ? ` of ${formatBytes(total)}` : ''}`);
        },
      });
      state.nodeTarball = fetched.file;
      await removeOlder(work, 'node-', path.basename(fetched.file));
      return fetched.status;
    }),
    stage('tree', 'unpack the root tree', async () => {
      if (!(await needsTree())) return 'not needed';
      requireRoot();
      await extractTree(state.rootfs!, tree, signal);
      return 'unpacked';
    }),
    stage('kernel', 'kernel (uncompressed, for direct boot)', async (output) => {
      const result = await cachedStage(work, 'kernel', keys.kernel, async (dir) => {
        const vmlinuz = await onlyKernelImage(tree);
        const kernel = await extractKernel(await fs.readFile(vmlinuz), arch, signal);
        output(`${path.basename(vmlinuz)}: ${kernel.compression} → ${kernel.format}, ${formatBytes(kernel.bytes.length)}`);
        await fs.writeFile(path.join(dir, kernelName), kernel.bytes);
      }, force);
      state.kernel = path.join(result.dir, kernelName);
      return result.status;
    }),
    stage('initrd', `initramfs (busybox and ${recipe.modules.length} modules with their dependencies)`, async (output) => {
      const result = await cachedStage(work, 'initrd', keys.initrd, async (dir) => {
        const built = await buildInitramfs(tree, recipe.modules, recipe.initramfsInit, signal);
        output(`${built.resolution.load.length} modules for ${built.kernelVersion}, ${formatBytes(built.cpio.length)}`);
        await fs.writeFile(path.join(dir, 'initrd.cpio'), built.cpio);
      }, force);
      state.initrd = path.join(result.dir, 'initrd.cpio');
      return result.status;
    }),
    stage('disk', 'root disk (ext4 → compressed qcow2)', async (output) => {
      const result = await cachedStage(work, 'disk', keys.disk, async (dir) => {
        await installNode(state.nodeTarball!, tree, recipe.node.installDir, signal);
        await customiseTree(tree, recipe.overlayDir);
        await buildRootDisk(tree, path.join(dir, 'root.qcow2'), { freeMiB: recipe.diskFreeMiB, onLine: output, ...withSignal });
      }, force);
      state.disk = path.join(result.dir, 'root.qcow2');
      await fs.rm(tree, { recursive: true, force: true });
      return result.status;
    }),
    stage('install', 'install into the box cache', async (output) => {
      let version: CachedVersion;
      if (upToDate) {
        version = current!;
      } else {
        await assembleBox(
          out,
          [
            { source: state.kernel!, path: kernelName, role: 'kernel' },
            { source: state.initrd!, path: 'initrd.cpio', role: 'initrd' },
            { source: state.disk!, path: 'root.qcow2', role: 'disk' },
          ],
          { name, version: boxVersion(recipe, keys), arch, cmdline: recipe.cmdline, memoryMiB: recipe.memoryMiB, cpus: recipe.cpus, shares: recipe.shares, node: recipe.node.version },
        );
        const manifestUrl = pathToFileURL(path.join(out, 'box.json')).href;
        const ensured = await ensureBox({ root: cacheRoot, catalog: options.catalog, name, arch, updateCheck: true, manifestUrl, ...withSignal });
        version = ensured.version;
      }
      if (options.outputDir) {
        await writeBoxCopy(version.dir, version.manifest, options.outputDir);
        output(`written to ${options.outputDir}`);
      }
      await fs.rm(out, { recursive: true, force: true });
      state.result = { status: upToDate ? 'up-to-date' : 'built', version, manifest: version.manifest, stages: outcomes };
      return upToDate ? `${version.id} (up to date)` : version.id;
    }),
  ];

  return {
    recipe,
    keys,
    version,
    upToDate,
    stages,
    result: () => {
      if (!state.result) throw new Error('internal: the box build has not finished');
      return state.result;
    },
    close: async () => {
      await fs.rm(tree, { recursive: true, force: true });
      await fs.rm(out, { recursive: true, force: true });
      await lock.release();
    },
  };
}

/** Runs every stage in order without a UI (tests, scripts); `onStage` sees each outcome. */
export async function buildBox(options: BoxBuildOptions, onStage?: (stage: BoxBuildStage, outcome: string) => void): Promise<BoxBuildResult> {
  const plan = await planBoxBuild(options);
  try {
    for (const stage of plan.stages) {
      // Not `onStage?.(stage, await stage.run())`: optional chaining would skip the run too.
      const outcome = await stage.run(() => {});
      onStage?.(stage, outcome);
    }
    return plan.result();
  } finally {
    await plan.close();
  }
}

async function onlyKernelImage(tree: string): Promise<string> {
  const boot = path.join(tree, 'boot');
  const images = (await fs.readdir(boot).catch(() => [] as string[])).filter((name) => name.startsWith('vmlinuz-'));
  if (images.length !== 1) {
    throw new BoxBuildError(`expected one /boot/vmlinuz-* in the root tree, found ${images.length}`, {
      hint: 'the box recipe must install exactly one linux-image package for the architecture',
    });
  }
  return path.join(boot, images[0]!);
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}
