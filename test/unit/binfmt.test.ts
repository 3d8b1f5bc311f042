import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureForeignExec, parseBinfmtLine, qemuBinfmtName, withFixBinaryFlag, type BinfmtPaths } from '../../src/common/binfmt.js';
import { ARCHES, hostArch } from '../../src/common/arch.js';
import { EnvironmentError } from '../../src/common/errors.js';
import { tempDir } from '../fixtures/temp-dir.js';

const foreign = ARCHES.find((arch) => arch !== hostArch())!;
const name = qemuBinfmtName(foreign);

/** A stand-in binfmt_misc (a plain "register" file records what kiwi writes) and binfmt.d folder. */
function fakeHost(options: { conf?: (interpreter: string) => string; entry?: string } = {}): BinfmtPaths & { interpreter: string } {
  const root = tempDir('kiwi-binfmt-');
  const binfmtDir = path.join(root, 'binfmt_misc');
  const confDir = path.join(root, 'binfmt.d');
  const interpreter = path.join(root, `qemu-${foreign}-static`);
  fs.mkdirSync(binfmtDir);
  fs.mkdirSync(confDir);
  fs.writeFileSync(path.join(binfmtDir, 'register'), '');
  fs.writeFileSync(interpreter, '');
  if (options.conf) fs.writeFileSync(path.join(confDir, `${name}.conf`), options.conf(interpreter));
  if (options.entry) fs.writeFileSync(path.join(binfmtDir, name), options.entry);
  return { binfmtDir, confDirs: [confDir], interpreter };
}

describe('binfmt registrations', () => {
  it('parses name, interpreter and flags', () => {
    expect(parseBinfmtLine(':qemu-aarch64:M::\\x7fELF:\\xff\\xff:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:OPF')).toEqual({
      name: 'qemu-aarch64',
      interpreter: '/usr/libexec/qemu-binfmt/aarch64-binfmt-P',
      flags: 'OPF',
    });
    expect(parseBinfmtLine('# comment')).toBeUndefined();
    expect(parseBinfmtLine(':broken:M')).toBeUndefined();
  });

  it('adds the F flag once, keeping the other flags and fields', () => {
    expect(withFixBinaryFlag(':qemu-aarch64:M::\\x7fELF:\\xff\\xff:/usr/bin/qemu-aarch64-static:OP\n')).toBe(':qemu-aarch64:M::\\x7fELF:\\xff\\xff:/usr/bin/qemu-aarch64-static:OPF');
    expect(withFixBinaryFlag(':qemu-aarch64:M::\\x7fELF:\\xff\\xff:/usr/bin/qemu-aarch64-static:')).toBe(':qemu-aarch64:M::\\x7fELF:\\xff\\xff:/usr/bin/qemu-aarch64-static:F');
    expect(withFixBinaryFlag(':q:M::\\x7fELF:\\xff\\xff:/q:POF')).toBe(':q:M::\\x7fELF:\\xff\\xff:/q:POF');
  });
});

describe('ensureForeignExec: this host runs the box architecture\'s programs for mmdebstrap', () => {
  it('has nothing to do for the host\'s own architecture', async () => {
    expect(await ensureForeignExec(hostArch(), fakeHost())).toEqual({ status: 'native' });
  });

  it('registers qemu-user-static\'s entry with the F flag when binfmt_misc has none', async () => {
    const host = fakeHost({ conf: (interpreter) => `# from qemu-user-static\n:${name}:M::\\x7fELF\\x02:\\xff\\xff\\xff:${interpreter}:OP\n` });
    const result = await ensureForeignExec(foreign, host);
    expect(result).toEqual({ status: 'registered', name, from: path.join(host.confDirs[0]!, `${name}.conf`), flags: 'OPF' });
    expect(fs.readFileSync(path.join(host.binfmtDir, 'register'), 'utf8')).toBe(`:${name}:M::\\x7fELF\\x02:\\xff\\xff\\xff:${host.interpreter}:OPF`);
  });

  it('leaves an enabled entry with the F flag alone', async () => {
    const host = fakeHost({ entry: 'enabled\ninterpreter /usr/libexec/qemu-binfmt/x-binfmt-P\nflags: POF\noffset 0\n' });
    expect(await ensureForeignExec(foreign, host)).toEqual({ status: 'present', name });
    expect(fs.readFileSync(path.join(host.binfmtDir, 'register'), 'utf8')).toBe('');
  });

  it('refuses an entry a chroot cannot use (no F flag, or disabled), saying how to remove it', async () => {
    await expect(ensureForeignExec(foreign, fakeHost({ entry: 'enabled\ninterpreter /x\nflags: OP\n' }))).rejects.toThrow(/has no F flag/);
    const disabled = await ensureForeignExec(foreign, fakeHost({ entry: 'disabled\ninterpreter /x\nflags: OPF\n' })).catch((error: unknown) => error);
    expect(disabled).toBeInstanceOf(EnvironmentError);
    expect((disabled as EnvironmentError).message).toMatch(/is disabled/);
    expect((disabled as EnvironmentError).hint).toMatch(new RegExp(`echo -1 > .*/${name}`));
  });

  it('names qemu-user-static when its registration or its emulator is missing (exit code 3)', async () => {
    const missing = await ensureForeignExec(foreign, fakeHost()).catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(EnvironmentError);
    expect((missing as EnvironmentError).exitCode).toBe(3);
    expect((missing as EnvironmentError).hint).toMatch(/apt-get install qemu-user-static/);
    const noEmulator = fakeHost({ conf: () => `:${name}:M::\\x7fELF:\\xff\\xff:/nonexistent/qemu-static:OPF\n` });
    await expect(ensureForeignExec(foreign, noEmulator)).rejects.toThrow(/names the emulator \/nonexistent\/qemu-static, which does not exist/);
  });
});
