import { describe, expect, it } from 'vitest';
import { parseBoxOptions, parseDiskSize, parseMemoryMiB, type BoxOptionValues } from '../../src/cli/box-options.js';
import { CleanupStack } from '../../src/common/cleanup-stack.js';
import { shellQuote } from '../../src/common/shell-quote.js';

const defaults: BoxOptionValues = { accel: 'auto', boxTimeout: '120', updateCheck: true };

describe('box options', () => {
  it('reads a bare --box-memory as GiB, unlike KIWI, and takes units', () => {
    expect(parseMemoryMiB('8')).toBe(8192);
    expect(parseMemoryMiB('512M')).toBe(512);
    expect(parseMemoryMiB('2GiB')).toBe(2048);
    expect(parseMemoryMiB('1.5G')).toBe(1536);
    expect(() => parseMemoryMiB('128M')).toThrow('a box needs at least 256 MiB');
    expect(() => parseMemoryMiB('lots')).toThrow('--box-memory lots: not a size');
  });

  it('reads --box-disk-size the same way (boxbuild and batch), at least 4G', () => {
    expect(parseDiskSize('32')).toBe(32 * 1024 ** 3);
    expect(parseDiskSize('40G')).toBe(40 * 1024 ** 3);
    expect(() => parseDiskSize('2G')).toThrow('a build needs at least 4G');
    expect(() => parseDiskSize('big')).toThrow('--box-disk-size big: not a size');
  });

  it('resolves the architecture from --arch or KIWI\'s --x86_64/--aarch64 and refuses conflicts', () => {
    expect(parseBoxOptions({ ...defaults, aarch64: true }).arch).toBe('aarch64');
    expect(parseBoxOptions({ ...defaults, arch: 'arm64', aarch64: true }).arch).toBe('aarch64');
    expect(() => parseBoxOptions({ ...defaults, x86_64: true, aarch64: true })).toThrow('conflicting architectures');
  });

  it('validates numbers and the accelerator before anything boots', () => {
    expect(parseBoxOptions({ ...defaults, boxSmpCpus: '4', sshPort: '2222', boxTimeout: '30' })).toMatchObject({
      cpus: 4,
      sshPort: 2222,
      timeoutMs: 30_000,
    });
    expect(() => parseBoxOptions({ ...defaults, boxSmpCpus: '0' })).toThrow('--box-smp-cpus 0: must be a whole number from 1 to 64');
    expect(() => parseBoxOptions({ ...defaults, sshPort: '70000' })).toThrow('--ssh-port 70000');
    expect(() => parseBoxOptions({ ...defaults, accel: 'hvf' })).toThrow('--accel hvf: not an accelerator');
  });
});

describe('shellQuote', () => {
  it('passes each argument through a shell unchanged', () => {
    expect(shellQuote(['sh', '-c', 'exit 7'])).toBe("sh -c 'exit 7'");
    expect(shellQuote(['echo', "it's", '$HOME', 'a/b.c'])).toBe(`echo 'it'\\''s' '$HOME' a/b.c`);
  });
});

describe('CleanupStack', () => {
  it('undoes in reverse order, runs every step and collects failures', async () => {
    const order: string[] = [];
    const stack = new CleanupStack();
    stack.push('first', () => order.push('first'));
    stack.push('second', () => {
      throw new Error('boom');
    });
    stack.push('third', async () => order.push('third'));
    expect(await stack.unwind()).toEqual(['second: boom']);
    expect(order).toEqual(['third', 'first']);
    expect(await stack.unwind()).toEqual([]);
  });
});
