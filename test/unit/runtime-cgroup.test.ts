import { describe, expect, it } from 'vitest';
import { parseKeyedFile, v1LimitWrites, v2Controllers, v2LimitWrites } from '../../src/runtime/cgroup-files.js';
import { parseCgroupMounts, parseProcCgroup } from '../../src/runtime/cgroup-mounts.js';

const limits = { memoryBytes: 512 * 1024 ** 2, swapBytes: 0, cpu: { quotaUsec: 50000, periodUsec: 100000 }, pids: 64, cpuset: '0' };

describe('cgroup files', () => {
  it('v2: one file per limit, controllers for accounting even without limits', () => {
    expect(v2LimitWrites(limits).map(({ file, value }) => `${file}=${value}`)).toEqual([
      'cpuset.cpus=0', 'memory.max=536870912', 'memory.swap.max=0', 'cpu.max=50000 100000', 'pids.max=64',
    ]);
    expect(v2LimitWrites({})).toEqual([]);
    expect(v2Controllers({})).toEqual(['memory', 'pids', 'cpu']);
    expect(v2Controllers({ cpuset: '0' })).toContain('cpuset');
  });

  it('v1: cpuset initialised from the parent, memsw is memory + swap and comes after memory', () => {
    const writes = v1LimitWrites(limits, { cpus: '0-1', mems: '0' }).map(({ controller, file, value }) => `${controller}:${file}=${value}`);
    expect(writes).toEqual([
      'cpuset:cpuset.cpus=0', 'cpuset:cpuset.mems=0',
      'memory:memory.limit_in_bytes=536870912', 'memory:memory.memsw.limit_in_bytes=536870912',
      'cpu:cpu.cfs_period_us=100000', 'cpu:cpu.cfs_quota_us=50000', 'pids:pids.max=64',
    ]);
    expect(v1LimitWrites({}, { cpus: '0-1', mems: '0' }).map(({ file, value }) => `${file}=${value}`)).toEqual(['cpuset.cpus=0-1', 'cpuset.mems=0']);
  });

  it('reads keyed accounting files', () => {
    expect(parseKeyedFile('usage_usec 1065624\nuser_usec 1050000\nsystem_usec 0\n')).toEqual({ usage_usec: 1065624, user_usec: 1050000, system_usec: 0 });
    expect(parseKeyedFile('oom_kill_disable 0\nunder_oom 0\noom_kill 1\n').oom_kill).toBe(1);
    expect(parseKeyedFile('max 29\n').max).toBe(29);
  });
});

describe('cgroup hierarchies', () => {
  it('finds the v1 controllers and the cgroup2 mount of a hybrid host', () => {
    const mountinfo = [
      '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
      '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
      '33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct',
      '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
      '39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
      '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
      '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
    ].join('\n');
    expect(parseCgroupMounts(mountinfo)).toEqual({
      unified: '/sys/fs/cgroup/unified',
      v1: { cpu: '/sys/fs/cgroup/cpu', cpuacct: '/sys/fs/cgroup/cpuacct', memory: '/sys/fs/cgroup/memory', pids: '/sys/fs/cgroup/pids' },
    });
  });

  it('reads co-mounted v1 controllers and a pure v2 host', () => {
    expect(parseCgroupMounts('30 23 0:27 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct').v1).toEqual({
      cpu: '/sys/fs/cgroup/cpu,cpuacct', cpuacct: '/sys/fs/cgroup/cpu,cpuacct',
    });
    expect(parseCgroupMounts('30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate')).toEqual({ unified: '/sys/fs/cgroup', v1: {} });
  });

  it('reads where a process sits', () => {
    expect(parseProcCgroup('0::/user.slice/user-1000.slice/session-2.scope\n')).toEqual({ unified: '/user.slice/user-1000.slice/session-2.scope', v1: {} });
    expect(parseProcCgroup('4:memory:/process_api/x\n2:cpu,cpuacct:/\n0::/\n')).toEqual({ unified: '/', v1: { memory: '/process_api/x', cpu: '/', cpuacct: '/' } });
  });
});
