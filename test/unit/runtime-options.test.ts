import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/common/errors.js';
import { expandCpuList, formatLimit, parseCpus, parseCpuset, parsePids, parseSize } from '../../src/runtime/quantities.js';
import { parseBind, resolveRunOptions } from '../../src/runtime/run-options.js';

describe('runtime quantities', () => {
  it('parses sizes in powers of 1024, bare numbers as bytes', () => {
    expect(parseSize('512M', '--memory')).toBe(536870912);
    expect(parseSize('1.5g', '--memory')).toBe(1610612736);
    expect(parseSize('64MiB', '--memory')).toBe(67108864);
    expect(parseSize('4096', '--memory')).toBe(4096);
    expect(parseSize('0', '--swap')).toBe(0);
    expect(() => parseSize('lots', '--memory')).toThrow(UsageError);
    expect(() => parseSize('-1M', '--memory')).toThrow(/not a size/);
  });

  it('turns --cpus into a cpu.max quota per 100 ms period', () => {
    expect(parseCpus('1.5')).toEqual({ quotaUsec: 150000, periodUsec: 100000 });
    expect(parseCpus('0.5')).toEqual({ quotaUsec: 50000, periodUsec: 100000 });
    expect(() => parseCpus('0')).toThrow(UsageError);
    expect(() => parseCpus('0.001')).toThrow(/minimum/);
    expect(() => parseCpus('two')).toThrow(UsageError);
  });

  it('checks cpusets against the online CPUs', () => {
    expect(expandCpuList('0-2,4\n')).toEqual([0, 1, 2, 4]);
    expect(parseCpuset('0', [0, 1])).toBe('0');
    expect(parseCpuset('0-1', [0, 1])).toBe('0-1');
    expect(() => parseCpuset('3', [0, 1])).toThrow(/CPU 3 not online/);
    expect(() => parseCpuset('a', [0, 1])).toThrow(/not a CPU list/);
  });

  it('parses pids and formats limits the way users write them', () => {
    expect(parsePids('256')).toBe(256);
    expect(() => parsePids('0')).toThrow(UsageError);
    expect(formatLimit(536870912)).toBe('512M');
    expect(formatLimit(2 * 1024 ** 3)).toBe('2G');
    expect(formatLimit(1000)).toBe('1000B');
  });
});

describe('kiwi run options', () => {
  const cwd = '/work';

  it('resolves a full command line into a spec', () => {
    const spec = resolveRunOptions(
      { root: 'rootfs', memory: '512M', swap: '0', cpus: '1.5', pids: '256', cpuset: '0', network: 'none', hostname: 'h1', bind: ['data:/data:ro'], commit: 'out' },
      ['/bin/sh', '-c', 'true'],
      cwd,
      [0, 1],
    );
    expect(spec).toEqual({
      root: { kind: 'dir', path: '/work/rootfs' },
      argv: ['/bin/sh', '-c', 'true'],
      limits: { memoryBytes: 536870912, swapBytes: 0, cpu: { quotaUsec: 150000, periodUsec: 100000 }, pids: 256, cpuset: '0' },
      network: 'none',
      hostname: 'h1',
      binds: [{ source: '/work/data', target: '/data', readOnly: true }],
      commitDir: '/work/out',
      workdir: '/',
    });
  });

  it('defaults to the box network, hostname kiwi and no limits', () => {
    const spec = resolveRunOptions({ image: '/i/root.tar.xz' }, ['true'], cwd);
    expect(spec.root).toEqual({ kind: 'image', path: '/i/root.tar.xz' });
    expect(spec.limits).toEqual({});
    expect(spec.network).toBe('box');
    expect(spec.hostname).toBe('kiwi');
  });

  it('refuses what cannot work, each with its reason', () => {
    expect(() => resolveRunOptions({}, ['true'], cwd)).toThrow(/exactly one of --root/);
    expect(() => resolveRunOptions({ root: 'a', image: 'b.tar.xz' }, ['true'], cwd)).toThrow(/exactly one of --root/);
    expect(() => resolveRunOptions({ root: 'a' }, [], cwd)).toThrow(/no command/);
    expect(() => resolveRunOptions({ root: 'a', network: 'host' }, ['true'], cwd)).toThrow(/not box or none/);
    expect(() => resolveRunOptions({ root: 'a', hostname: 'bad name' }, ['true'], cwd)).toThrow(/host name/);
    expect(() => resolveRunOptions({ root: 'a,b' }, ['true'], cwd)).toThrow(/overlayfs cannot use a path/);
    expect(() => resolveRunOptions({ root: 'a', memory: '1M' }, ['true'], cwd)).toThrow(/below the 4M/);
    expect(() => resolveRunOptions({ image: 'root.zip' }, ['true'], cwd)).toThrow(/\.tar\.xz/);
  });

  it('parses binds', () => {
    expect(parseBind('/a:/b', cwd)).toEqual({ source: '/a', target: '/b', readOnly: false });
    expect(parseBind('rel:/b/:rw', cwd)).toEqual({ source: '/work/rel', target: '/b/', readOnly: false });
    expect(() => parseBind('/a', cwd)).toThrow(/SRC:DST/);
    expect(() => parseBind('/a:b', cwd)).toThrow(/absolute/);
    expect(() => parseBind('/a:/', cwd)).toThrow(/other than \//);
  });
});
