import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { BoxBuildError, runTool } from '../../src/box/recipe/run-tool.js';
import { tempDir } from '../fixtures/temp-dir.js';

/** Whether a process exists (and is not a zombie). */
function alive(pid: number): boolean {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '';
  return !stat.startsWith('Z');
}
const exists = (pid: number): boolean => fs.existsSync(`/proc/${pid}`) && alive(pid);

describe('runTool', () => {
  it('stops a whole process group on abort: a tool that waits out SIGTERM for its own child does not leave it running', async () => {
    const dir = tempDir('kiwi-run-tool-');
    const pidFile = path.join(dir, 'child.pid');
    // Like mmdebstrap: on SIGTERM it waits for its child (apt/dpkg), then fails.
    const script = `trap 'echo stopping >&2' TERM; sleep 60 & echo $! > ${pidFile}; wait; wait; exit 1`;
    const controller = new AbortController();
    const run = runTool('sh', ['-c', script], { signal: controller.signal, processGroup: true });
    const readPid = (): number => Number(fs.existsSync(pidFile) ? fs.readFileSync(pidFile, 'utf8') : 0);
    const comm = (pid: number): string => (pid ? fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() : '');
    // Until the child has exec'd sleep: a signal to the shell's fork before that is lost, and the tool would really hang.
    for (let i = 0; i < 250 && comm(readPid()) !== 'sleep'; i++) await sleep(20);
    const child = readPid();
    expect(comm(child)).toBe('sleep');
    const started = performance.now();
    controller.abort(new Error('cancelled'));
    await expect(run).rejects.toThrow('cancelled');
    expect(performance.now() - started).toBeLessThan(3000);
    for (let i = 0; i < 50 && exists(child); i++) await sleep(20);
    expect(exists(child)).toBe(false);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('names the Debian package of a tool that is not installed', async () => {
    const error = await runTool('mmdebstrap-not-here', []).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BoxBuildError);
    expect((error as BoxBuildError).message).toBe('mmdebstrap-not-here is not installed');
  });
});
