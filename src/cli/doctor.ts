import fs from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { cacheRoot } from '../box/paths.js';
import { hostArch } from '../common/arch.js';
import { EnvironmentError } from '../common/errors.js';
import { formatBytes } from '../common/units.js';
import { checkRequirements, missingPackages, type RequirementStatus } from '../vm/requirements.js';
import { runCommand } from './run-command.js';

/** Below this much free space in the box cache, a box build or a box update may not fit. */
const MIN_FREE_BYTES = 4 * 1024 ** 3;

interface DoctorOptions {
  fix?: boolean;
  yes?: boolean;
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check what boxes need on this host (qemu, virtiofsd, mmdebstrap, KVM, disk) and install what is missing')
    .option('--fix', 'install the missing Debian/Ubuntu packages with apt-get')
    .option('--yes', 'with --fix: do not ask before installing')
    .action((options: DoctorOptions) => runCommand(() => doctor(options)));
}

async function doctor(options: DoctorOptions): Promise<number> {
  let statuses = checkRequirements();
  printStatuses(statuses);
  const missing = missingPackages(statuses);
  if (options.fix && missing.length > 0) {
    await installPackages(missing, Boolean(options.yes));
    statuses = checkRequirements();
    process.stdout.write('\nafter installing:\n');
    printStatuses(statuses);
  } else if (missing.length > 0) {
    process.stdout.write(`\nto install what is missing: kiwi doctor --fix   (apt-get install ${missing.join(' ')})\n`);
  }
  await printDiskSpace();
  await printKvm();
  return statuses.some((status) => !status.found && !status.requirement.optional) ? 3 : 0;
}

function printStatuses(statuses: RequirementStatus[]): void {
  for (const { requirement, found } of statuses) {
    const state = found ? 'ok     ' : requirement.optional ? 'missing' : 'MISSING';
    const where = found ?? `install package ${requirement.package}`;
    process.stdout.write(`${state}  ${requirement.name.padEnd(20)} ${where.padEnd(40)} for ${requirement.neededFor}\n`);
  }
}

async function installPackages(packages: string[], yes: boolean): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new EnvironmentError('kiwi doctor --fix installs packages with apt-get and needs root', {
      hint: `run: sudo apt-get install ${packages.join(' ')}`,
    });
  }
  if (!yes) {
    const prompt = createInterface({ input: process.stdin, output: process.stderr });
    const answer = await prompt.question(`install ${packages.join(' ')} with apt-get? [y/N] `);
    prompt.close();
    if (!/^y(es)?$/i.test(answer.trim())) return;
  }
  const { execa } = await import('execa');
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  await execa('apt-get', ['update'], { stdio: 'inherit', env });
  await execa('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { stdio: 'inherit', env });
}

async function printDiskSpace(): Promise<void> {
  let dir = cacheRoot();
  // The cache may not exist yet: measure the filesystem it will be created on.
  while (!(await fs.stat(dir).catch(() => undefined)) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  const stats = await fs.statfs(dir);
  const free = stats.bavail * stats.bsize;
  const state = free >= MIN_FREE_BYTES ? 'ok     ' : 'LOW    ';
  process.stdout.write(`${state}  ${'disk space'.padEnd(20)} ${`${formatBytes(free)} free in ${dir}`.padEnd(40)} for the box cache (${formatBytes(MIN_FREE_BYTES)} advised)\n`);
}

async function printKvm(): Promise<void> {
  const [{ readCurrent }, { kvmDeviceProblem, probeKvm }, { defaultCpu, defaultMachine }] = await Promise.all([
    import('../box/store.js'),
    import('../vm/accel-probe.js'),
    import('../vm/qemu-args.js'),
  ]);
  const arch = hostArch();
  const unusable = await kvmDeviceProblem();
  if (unusable) {
    process.stdout.write(`no       KVM                  boxes use TCG (slower): ${unusable}\n`);
    return;
  }
  const box = await readCurrent(cacheRoot(), 'debian', arch);
  const kernel = box?.manifest.files.find((file) => file.role === 'kernel');
  if (!box || !kernel) {
    process.stdout.write(`?        KVM                  /dev/kvm present; not verified: no debian box kernel cached yet (kiwi box build debian)\n`);
    return;
  }
  const result = await probeKvm({ arch, kernel: path.join(box.dir, kernel.path), machine: defaultMachine(arch, 'kvm'), cpu: defaultCpu(arch, 'kvm') });
  const line = result.accel === 'kvm' ? 'works' : `does not work, boxes use TCG (slower): ${result.reason}`;
  process.stdout.write(`${result.accel === 'kvm' ? 'ok     ' : 'no     '}  KVM                  ${line}\n`);
}
