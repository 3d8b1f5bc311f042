import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readdirOrEmpty } from '../common/read-dir.js';
import { isAlive, processIdentity } from '../common/process-identity.js';

/**
 * Per-VM files, one directory per running VM so two VMs never share a socket, log or key:
 *
 *   <base>/vms/<id>/
 *     owner               processIdentity() of the kiwi process that runs the VM
 *     qemu.pid            written by QEMU (-pidfile)
 *     overlay.qcow2       the VM's writes on top of the box's read-only disk
 *     console.log         the serial console
 *     qmp.sock            QEMU's QMP socket (a hung guest's vCPU registers)
 *     ssh_host_ed25519_key, authorized_keys   handed to the guest through fw_cfg
 *
 * <base> is $XDG_RUNTIME_DIR/kiwi (cleared at reboot), else /run/kiwi as root, else
 * <tmp>/kiwi-<uid>.
 */
export interface VmWorkdir {
  id: string;
  dir: string;
  overlay: string;
  serialLog: string;
  qmpSocket: string;
  pidFile: string;
  hostKeyFile: string;
  authorizedKeysFile: string;
}

export function runtimeBase(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XDG_RUNTIME_DIR) return path.join(env.XDG_RUNTIME_DIR, 'kiwi');
  if (process.getuid?.() === 0) return '/run/kiwi';
  return path.join(os.tmpdir(), `kiwi-${process.getuid?.() ?? 'user'}`);
}

function workdirPaths(dir: string): VmWorkdir {
  return {
    id: path.basename(dir),
    dir,
    overlay: path.join(dir, 'overlay.qcow2'),
    serialLog: path.join(dir, 'console.log'),
    qmpSocket: path.join(dir, 'qmp.sock'),
    pidFile: path.join(dir, 'qemu.pid'),
    hostKeyFile: path.join(dir, 'ssh_host_ed25519_key'),
    authorizedKeysFile: path.join(dir, 'authorized_keys'),
  };
}

export async function createVmWorkdir(base = runtimeBase()): Promise<VmWorkdir> {
  const dir = path.join(base, 'vms', randomBytes(6).toString('hex'));
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await fs.writeFile(path.join(dir, 'owner'), processIdentity() ?? '');
  return workdirPaths(dir);
}

export async function removeVmWorkdir(workdir: VmWorkdir): Promise<void> {
  await fs.rm(workdir.dir, { recursive: true, force: true });
}

/**
 * Cleans what a killed kiwi left: for each VM directory whose owner is dead, its QEMU
 * (normally already gone: QEMU runs with a parent-death signal) and the directory.
 */
export async function cleanStaleVmWorkdirs(base = runtimeBase()): Promise<string[]> {
  const vms = path.join(base, 'vms');
  const entries = await readdirOrEmpty(vms);
  const cleaned: string[] = [];
  for (const entry of entries) {
    const workdir = workdirPaths(path.join(vms, entry));
    const owner = await fs.readFile(path.join(workdir.dir, 'owner'), 'utf8').catch(() => '');
    if (owner && isAlive(owner)) continue;
    const pid = Number(await fs.readFile(workdir.pidFile, 'utf8').catch(() => ''));
    if (pid > 0 && (await isQemu(pid))) process.kill(pid, 'SIGKILL');
    await removeVmWorkdir(workdir);
    cleaned.push(workdir.dir);
  }
  return cleaned;
}

async function isQemu(pid: number): Promise<boolean> {
  const comm = await fs.readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
  return comm.startsWith('qemu-system');
}
