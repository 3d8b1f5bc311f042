import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import type { Catalog } from '../box/catalog.js';
import { ensureBox } from '../box/ensure-box.js';
import type { FetchEventHandler } from '../box/fetch-events.js';
import type { BoxManifest } from '../box/manifest.js';
import { exists, type CachedVersion } from '../box/store.js';
import type { Arch } from '../common/arch.js';
import { CleanupStack } from '../common/cleanup-stack.js';
import { UsageError } from '../common/errors.js';
import { generateVmKeys } from '../transport/ssh-keys.js';
import { SshSession } from '../transport/ssh-session.js';
import { cachedProbe } from './accel-cache.js';
import { acquirePersistentRoot } from './persistent-root.js';
import { chooseAccel, probeKvm, type AccelProbeResult } from './accel-probe.js';
import { freeLoopbackPort } from './free-port.js';
import { Machine, VmError, type MachineExit } from './machine.js';
import { followFile } from './console-follow.js';
import { openFailureLogs } from './failure-logs.js';
import { buildQemuArgs, defaultCpu, defaultMachine } from './qemu-args.js';
import { summarizeRegisters, vcpuRegisters } from './qmp.js';
import { checkRequirements } from './requirements.js';
import { mountGuestShares, prepareHostShares } from './shares/share-setup.js';
import type { Share, ShareBackend } from './shares/share-types.js';
import type { Accel, DataDisk, VmSpec } from './vm-spec.js';
import { cleanStaleVmWorkdirs, createVmWorkdir, removeVmWorkdir, type VmWorkdir } from './vm-workdir.js';

export interface BootOptions {
  cacheRoot: string;
  catalog: Catalog;
  name: string;
  arch: Arch;
  updateCheck: boolean;
  accel: Accel | 'auto';
  /** Overrides of the box's defaults. */
  memoryMiB?: number;
  cpus?: number;
  machine?: string;
  cpu?: string;
  /** Host port for SSH; default: a free one. */
  sshPort?: number;
  /** Host directories to mount in the box once it answers on SSH. */
  shares?: Share[];
  /** How they are shared; default 9p. */
  shareBackend?: ShareBackend;
  /** Writable disks after the root disk (/dev/vdb, ...), e.g. the build cache disk. */
  dataDisks?: DataDisk[];
  /** --no-snapshot: keep the root disk's changes for the next such VM (persistent-root.ts). */
  persistent?: boolean;
  /** Time from QEMU start to SSH ready, in ms. */
  timeoutMs: number;
  onEvent?: FetchEventHandler;
  /** The serial console's text while the box boots (--box-console). */
  onConsole?: (text: string) => void;
  /** One-line notices (the TCG fallback). */
  onNotice?: (message: string) => void;
  signal?: AbortSignal;
}

/** A booted box, ready for commands over SSH. `shutdown` is safe to call on every path. */
export interface RunningBox {
  session: SshSession;
  machine: Machine;
  workdir: VmWorkdir;
  box: CachedVersion;
  accel: Accel;
  /** Where the boot's time went, in ms from bootBox's start. */
  timings: { qemuStarted: number; sshReady: number };
  /**
   * When QEMU was killed or crashed (not stopped by shutdown(), not powered off by the guest),
   * or the SSH connection dropped while it ran: the error that says so, with its evidence. A
   * dropped connection is the first sign, so callers ask after an SSH operation failed or
   * ended oddly.
   */
  lost(): Promise<VmError | undefined>;
  shutdown(): Promise<void>;
}

/** QEMU's exit is seen a moment after the SSH connection it carried drops. */
const EXIT_AFTER_DROP_MS = 3000;

const QBOOT = '/usr/share/qemu/qboot.rom';
const FW_CFG_PREFIX = 'opt/org.kiwi';

/** Fetches (or reuses) the box, boots a fresh VM of it on its own overlay and connects over SSH. */
export async function bootBox(options: BootOptions): Promise<RunningBox> {
  const started = performance.now();
  await cleanStaleVmWorkdirs();
  const cleanup = new CleanupStack();
  let consoleFollower: { stop(): Promise<void> } | undefined;
  try {
    const ensured = await ensureBox({
      root: options.cacheRoot,
      catalog: options.catalog,
      name: options.name,
      arch: options.arch,
      updateCheck: options.updateCheck,
      use: true,
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    cleanup.push('release box', () => ensured.inUse?.release());
    const box = ensured.version;
    const files = boxFiles(box);

    const qemuBinary = `qemu-system-${options.arch}`;
    requireHostTool(qemuBinary, options.arch === 'x86_64' ? 'qemu-system-x86' : 'qemu-system-arm');
    const accel = await resolveAccel(options, files.kernel, qemuBinary);

    const workdir = await createVmWorkdir();
    cleanup.push('remove VM directory', () => removeVmWorkdir(workdir));
    const keys = generateVmKeys(`kiwi-${workdir.id}`);
    await fs.writeFile(workdir.hostKeyFile, keys.host.privateKey, { mode: 0o600 });
    await fs.writeFile(workdir.authorizedKeysFile, `${keys.client.publicKey}\n`);
    let overlay = workdir.overlay;
    if (options.persistent) {
      const kept = await acquirePersistentRoot({ cacheRoot: options.cacheRoot, name: options.name, arch: options.arch, baseDisk: files.disk, createOverlay, ...(options.onNotice ? { onNotice: options.onNotice } : {}) });
      cleanup.push('release kept root disk', () => kept.release());
      overlay = kept.overlay;
    } else {
      await createOverlay(files.disk, workdir.overlay);
    }
    // Share daemons (virtiofsd) start before QEMU and are pushed below it: they stop after it.
    const shareBackend = options.shareBackend ?? '9p';
    if (options.shares?.length && !box.manifest.shares.includes(shareBackend)) {
      throw new UsageError(`box ${options.name} does not support ${shareBackend} shares`, { hint: `it supports: ${box.manifest.shares.join(', ')}` });
    }
    const shares = await prepareHostShares(shareBackend, options.shares ?? [], workdir.dir, cleanup);

    const spec: VmSpec = {
      arch: options.arch,
      accel,
      memoryMiB: options.memoryMiB ?? box.manifest.memoryMiB,
      cpus: options.cpus ?? box.manifest.cpus,
      kernel: files.kernel,
      ...(files.initrd ? { initrd: files.initrd } : {}),
      cmdline: box.manifest.cmdline,
      disk: { base: files.disk, overlay },
      ...(options.dataDisks?.length ? { dataDisks: options.dataDisks } : {}),
      sshPort: options.sshPort ?? (await freeLoopbackPort()),
      fwCfg: [
        { name: `${FW_CFG_PREFIX}/ssh_host_ed25519_key`, file: workdir.hostKeyFile },
        { name: `${FW_CFG_PREFIX}/authorized_keys`, file: workdir.authorizedKeysFile },
      ],
      serialLog: workdir.serialLog,
      qmpSocket: workdir.qmpSocket,
      ...(options.machine ? { machine: options.machine } : {}),
      ...(options.cpu ? { cpu: options.cpu } : {}),
      ...(options.arch === 'x86_64' && (await exists(QBOOT)) ? { bios: QBOOT } : {}),
      ...(shares.devices.length ? { shares: shares.devices } : {}),
    };
    const machine = Machine.start(buildQemuArgs(spec), { serialLog: workdir.serialLog, pidFile: workdir.pidFile });
    const qemuStarted = performance.now() - started;
    if (options.onConsole) {
      const follower = followFile(workdir.serialLog, options.onConsole);
      cleanup.push('follow console', () => follower.stop());
      // Until SSH is ready: after that the command's own output is what the user watches.
      void machine.exited.then(() => follower.stop());
      options.signal?.addEventListener('abort', () => void follower.stop(), { once: true });
      consoleFollower = follower;
    }
    cleanup.push('stop VM', () => machine.stop(0));

    let session: SshSession;
    try {
      session = await SshSession.connect(
        { host: '127.0.0.1', port: spec.sshPort, username: 'root', privateKey: keys.client.privateKey, hostPublicKey: keys.host.publicKey },
        { timeoutMs: options.timeoutMs, isAlive: () => machine.isAlive(), ...(options.signal ? { signal: options.signal } : {}) },
      );
    } catch (error) {
      throw await bootFailure(machine, workdir, error);
    }
    cleanup.push('close SSH', () => session.close());
    await consoleFollower?.stop();
    const timings = { qemuStarted, sshReady: performance.now() - started };
    await mountGuestShares(session, shareBackend, shares.tagged, cleanup);

    let stopped: Promise<void> | undefined;
    const lost = async (): Promise<VmError | undefined> => {
      const exit = machine.isAlive() && !session.isConnected() ? await Promise.race([machine.exited, sleep(EXIT_AFTER_DROP_MS, undefined, { ref: false })]) : undefined;
      if (stopped) return undefined;
      if (machine.isAlive()) {
        if (session.isConnected()) return undefined;
        // The guest kept running but its SSH server or the connection went: its console may say why.
        const reason = session.connectionError();
        return vmFailure(machine, workdir, `the SSH connection to the box dropped${reason ? ` (${reason})` : ''} while its VM kept running`, {
          hint: 'kiwi stopped the VM; run again',
        });
      }
      const ended = exit ?? (await machine.exited);
      // Exit 0 is the guest powering itself off (`poweroff` in a box shell), not a loss.
      if (ended.exitCode === 0 && !ended.signal) return undefined;
      return vmFailure(machine, workdir, `the box's VM stopped while kiwi was using it: QEMU ${describeExit(ended)}`, {
        hint: 'kiwi removed what the run left; run it again',
      });
    };
    // With no share, no data disk and a root overlay that is deleted, nothing the guest holds
    // outlives it: QEMU is stopped at once instead of asking the guest to flush and power off.
    const disposable = !options.persistent && !options.shares?.length && !options.dataDisks?.length;
    const shutdown = (): Promise<void> => {
      stopped ??= (async () => {
        // sync first: busybox's poweroff -f does not, and writes to shares or the overlay may be pending.
        if (!disposable) await Promise.race([session.exec('sync; poweroff -f').catch(() => undefined), machine.exited]);
        session.close();
        await machine.stop(disposable ? 0 : undefined);
        const problems = await cleanup.unwind();
        if (problems.length) throw new VmError(`cleaning up the VM failed: ${problems.join('; ')}`);
      })();
      return stopped;
    };
    return { session, machine, workdir, box, accel, timings, lost, shutdown };
  } catch (error) {
    await cleanup.unwind();
    throw error;
  }
}

function boxFiles(box: CachedVersion): { kernel: string; initrd: string | undefined; disk: string } {
  const file = (role: BoxManifest['files'][number]['role']): string | undefined => {
    const entry = box.manifest.files.find((candidate) => candidate.role === role);
    return entry ? path.join(box.dir, entry.path) : undefined;
  };
  return { kernel: file('kernel')!, initrd: file('initrd'), disk: file('disk')! };
}

async function resolveAccel(options: BootOptions, kernel: string, qemuBinary: string): Promise<Accel> {
  const probe = (): Promise<AccelProbeResult> =>
    cachedProbe(kernel, qemuBinary, () =>
      probeKvm({ arch: options.arch, kernel, machine: options.machine ?? defaultMachine(options.arch, 'kvm'), cpu: options.cpu ?? defaultCpu(options.arch, 'kvm'), qemuBinary }),
    );
  const result = await chooseAccel(options.accel, options.arch, probe);
  if (result.reason) {
    options.onNotice?.(
      result.accel === 'tcg' ? `KVM not used, booting under TCG (slower): ${result.reason}` : `--accel kvm was asked for, but ${result.reason}`,
    );
  }
  return result.accel;
}

function requireHostTool(command: string, debianPackage: string): void {
  const [status] = checkRequirements([{ name: command, candidates: [command], package: debianPackage, neededFor: 'boxes' }]);
  if (!status?.found) {
    throw new VmError(`${command} is not installed`, { hint: `install the ${debianPackage} package (or run kiwi doctor --fix)` });
  }
}

/** The VM's own writable layer over the box's read-only disk. */
async function createOverlay(base: string, overlay: string): Promise<void> {
  requireHostTool('qemu-img', 'qemu-utils');
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', base, overlay], { stdin: 'ignore' });
}

/** The error of a boot that failed, with its evidence. */
function bootFailure(machine: Machine, workdir: VmWorkdir, cause: unknown): Promise<VmError> {
  const reason = machine.isAlive() ? (cause as Error).message : 'QEMU exited before the box answered on SSH';
  return vmFailure(machine, workdir, reason, { hint: '--box-console shows the boot as it happens', cause });
}

/**
 * A VmError with QEMU's stderr, the console's last lines and, while QEMU still runs, where its
 * vCPUs are; the whole console log (and register dump) is kept for the user.
 */
async function vmFailure(machine: Machine, workdir: VmWorkdir, reason: string, options: { hint: string; cause?: unknown }): Promise<VmError> {
  const consoleTail = await machine.consoleTail();
  const qemu = machine.qemuErrors();
  const failureLog = await openFailureLogs(path.join(path.dirname(path.dirname(workdir.dir)), 'logs'));
  const kept = failureLog(workdir.id, 'console.log');
  await fs.copyFile(workdir.serialLog, kept).catch(() => fs.writeFile(kept, ''));
  const registers = machine.isAlive() ? await vcpuRegisters(workdir.qmpSocket).catch(() => undefined) : undefined;
  if (registers) await fs.writeFile(failureLog(workdir.id, 'registers.txt'), registers);
  const evidence = [
    ...(qemu ? [`QEMU said:\n${qemu}`] : []),
    consoleTail ? `console (last lines):\n${consoleTail}` : 'console: nothing printed yet',
    ...(registers ? [`vCPUs (all registers in ${workdir.id}-registers.txt beside the console log):\n${summarizeRegisters(registers).join('\n')}`] : []),
  ].join('\n');
  return new VmError(`${reason}\n${evidence}`, { hint: `the whole console log is in ${kept}; ${options.hint}`, cause: options.cause });
}

function describeExit(exit: MachineExit): string {
  return exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.exitCode ?? 'unknown'}`;
}
