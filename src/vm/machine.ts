import fs from 'node:fs/promises';
import type { ResultPromise } from 'execa';
import { startTiedProcess, stopChild } from '../common/child-process.js';
import { EnvironmentError } from '../common/errors.js';
import type { QemuCommand } from './vm-spec.js';

/** How a VM ended. */
export interface MachineExit {
  exitCode: number | undefined;
  signal: string | undefined;
}

/** A VM that failed to boot or died carries its evidence: QEMU's stderr and the console tail. */
export class VmError extends EnvironmentError {}

/** One running QEMU process; it dies with kiwi, even a SIGKILLed one (startTiedProcess). */
export class Machine {
  readonly exited: Promise<MachineExit>;
  private running = true;
  private stderrTail = '';

  private constructor(
    private readonly child: ResultPromise,
    readonly serialLog: string,
  ) {
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString()).slice(-4000);
    });
    this.exited = child.then(
      (result) => result,
      (error: { exitCode?: number; signal?: string }) => error,
    ).then((result) => {
      this.running = false;
      return { exitCode: result.exitCode ?? undefined, signal: result.signal ?? undefined };
    });
  }

  static start(qemu: QemuCommand, options: { serialLog: string; pidFile: string; console?: boolean }): Machine {
    const child = startTiedProcess(qemu.command, [...qemu.args, '-pidfile', options.pidFile]);
    return new Machine(child, options.serialLog);
  }

  isAlive(): boolean {
    return this.running;
  }

  /**
   * Stops QEMU in bounded steps: wait for the guest's own power-off, then SIGTERM, then
   * SIGKILL. Resolves once the process is gone.
   */
  async stop(graceMs = 3000): Promise<MachineExit> {
    await stopChild(this.child, this.exited, graceMs);
    return this.exited;
  }

  /** The last lines of the serial console, for error messages. */
  async consoleTail(lines = 15): Promise<string> {
    const text = await fs.readFile(this.serialLog, 'utf8').catch(() => '');
    return text.replaceAll('\r', '').trimEnd().split('\n').slice(-lines).join('\n');
  }

  qemuErrors(): string {
    return this.stderrTail.trim();
  }
}
