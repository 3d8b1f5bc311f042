import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCatalog } from '../../src/box/catalog.js';
import { ensureBox } from '../../src/box/ensure-box.js';
import { bootBox, type RunningBox } from '../../src/vm/boot-box.js';
import { execCapture } from '../fixtures/box/exec-capture.js';
import { ensureTestBox } from '../fixtures/box/built-box.js';
import { tempDir } from '../fixtures/temp-dir.js';

// Under QEMU's multi-threaded TCG a kernel rewriting its own code (a static key flipping)
// while another vCPU runs it can hang the box for good (box-init says how). The box boots
// with one CPU, makes the rewrites builds would cause, then brings the other CPU up. This
// test boots a copy of the test box whose kernel command line adds a kprobe that logs every
// static-key update (jump_label_update) to the kernel log, does what builds do, and checks
// that no update came after the second CPU did.
const canRun = process.getuid?.() === 0 && fs.existsSync('/usr/bin/qemu-system-x86_64') && fs.existsSync('/usr/bin/mmdebstrap');
const TRACE_CMDLINE = 'loglevel=5 tp_printk kprobe_event=p,jump_label_update,%di';

/** What a build does in the box, as far as the kernel's static keys are concerned. */
function buildLikeWork(hostPort: number): string {
  return `set -e
cg=/sys/fs/cgroup/kiwi
echo "+pids" > /sys/fs/cgroup/cgroup.subtree_control
echo "+cpuset +cpu +memory +pids" > $cg/cgroup.subtree_control
mkdir $cg/rewrite-test
echo 268435456 > $cg/rewrite-test/memory.max
echo "50000 100000" > $cg/rewrite-test/cpu.max
echo 0 > $cg/rewrite-test/cpuset.cpus
echo 100 > $cg/rewrite-test/pids.max
sh -c "echo \\$\\$ > $cg/rewrite-test/cgroup.procs; true"
rmdir $cg/rewrite-test
test "$(busybox wget -q -O - http://10.0.2.2:${hostPort}/)" = host-answer
busybox nc ::1 22 </dev/null | head -c 7 | grep -q SSH-2.0
bwrap --unshare-all --bind / / --proc /proc --dev /dev sh -c 'busybox ip link set lo up; busybox nc 127.0.0.1 9 </dev/null || true'
mkdir -p /tmp/rw/lower /tmp/rw/upper /tmp/rw/work /tmp/rw/merged
mount -t overlay overlay -o lowerdir=/tmp/rw/lower,upperdir=/tmp/rw/upper,workdir=/tmp/rw/work /tmp/rw/merged
umount /tmp/rw/merged
truncate -s 16M /tmp/rw/disk.img
mkfs.ext4 -q /tmp/rw/disk.img
loop=$(losetup --find --show /tmp/rw/disk.img)
mount "$loop" /tmp/rw/merged
umount /tmp/rw/merged
losetup -d "$loop"
# Keys flipped by a worker (DO_ONCE) change a moment after their trigger.
sleep 1`;
}

describe.skipIf(!canRun)('the debian box rewrites no kernel code once its second CPU is up (TCG)', () => {
  let vm: RunningBox | undefined;
  let server: http.Server;

  beforeAll(async () => {
    const built = (await ensureTestBox()).result.version;
    // A copy of the test box with the tracing command line, installed through a file:// manifest
    // (both temp dirs go after the file, once the VM is down: test/fixtures/remove-temp-dirs.ts).
    const source = tempDir('kiwi-traced-box-');
    const cache = tempDir('kiwi-traced-cache-');
    for (const file of built.manifest.files) fs.symlinkSync(path.join(built.dir, file.path), path.join(source, file.path));
    const manifest = { ...built.manifest, cmdline: `${built.manifest.cmdline} ${TRACE_CMDLINE}` };
    fs.writeFileSync(path.join(source, 'box.json'), JSON.stringify(manifest));
    const catalog = loadCatalog({ env: {} });
    await ensureBox({ root: cache, catalog, name: 'debian', arch: 'x86_64', updateCheck: true, manifestUrl: pathToFileURL(path.join(source, 'box.json')).href });
    server = http.createServer((_request, response) => response.end('host-answer'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    vm = await bootBox({ cacheRoot: cache, catalog, name: 'debian', arch: 'x86_64', updateCheck: false, accel: 'tcg', timeoutMs: 120_000 });
  }, 30 * 60_000);

  afterAll(async () => {
    await vm?.shutdown();
    server?.close();
  });

  it('makes every static-key update before the second CPU boots, through cgroups with limits, TCP over IPv4 and IPv6, namespaces, overlay and loop mounts', async () => {
    const port = (server.address() as AddressInfo).port;
    const work = await execCapture(vm!, buildLikeWork(port));
    expect(work.code, work.stderr).toBe(0);
    expect((await execCapture(vm!, 'cat /sys/devices/system/cpu/online')).stdout).toBe('0-1\n');

    const log = (await execCapture(vm!, 'dmesg')).stdout.split('\n');
    // Printed when the kernel starts the other CPUs, at boot or when they come online.
    const secondCpu = log.findIndex((line) => line.includes('x86: Booting SMP configuration'));
    expect(secondCpu, 'the kernel log says when the second CPU booted').toBeGreaterThan(0);
    const updates = log.flatMap((line, index) => (line.includes('jump_label_update') ? [{ index, key: /arg1=(0x[0-9a-f]+)/.exec(line)?.[1] ?? line }] : []));
    // The probe works: the box's own cgroup set-up makes updates at boot.
    expect(updates.filter((update) => update.index < secondCpu).length).toBeGreaterThan(0);
    const late = updates.filter((update) => update.index > secondCpu);
    if (late.length > 0) {
      // Name the keys: the box kernel has no KASLR, /proc/kallsyms maps the addresses.
      const names = await execCapture(vm!, late.map((update) => `grep -m1 '^${update.key.slice(2)} ' /proc/kallsyms || echo '${update.key} ?'`).join('; '));
      expect.fail(`static keys updated after the second CPU came up:\n${names.stdout}`);
    }
  }, 5 * 60_000);
});
