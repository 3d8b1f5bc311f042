/**
 * How many builds of a batch may run at once, each in its own VM: as many as the host's
 * free memory holds (guest memory is hard: overcommitted, a VM gets OOM-killed) and at
 * most two vCPUs per host core (vCPUs are threads: more only adds switching), never more
 * than --jobs, and always at least one.
 */
export interface BudgetInput {
  /** Memory the host can give, in MiB (MemAvailable). */
  availableMiB: number;
  /** Host CPU cores. */
  cores: number;
  /** --jobs, if given. */
  jobs: number | undefined;
  /** Each build's VM: guest memory in MiB and vCPUs. */
  vms: { memoryMiB: number; cpus: number }[];
}

/** Memory kept for the host itself, kiwi, QEMU's own overhead and the host-side xz. */
export const HOST_RESERVE_MIB = 1024;
/** Per-VM overhead of QEMU beyond the guest's memory, measured about 150 MiB under TCG. */
export const QEMU_OVERHEAD_MIB = 256;
const VCPUS_PER_CORE = 2;

export function concurrentBuilds(input: BudgetInput): number {
  const largestMemory = Math.max(...input.vms.map((vm) => vm.memoryMiB + QEMU_OVERHEAD_MIB));
  const largestCpus = Math.max(...input.vms.map((vm) => vm.cpus));
  const byMemory = Math.floor((input.availableMiB - HOST_RESERVE_MIB) / largestMemory);
  const byCpu = Math.floor((input.cores * VCPUS_PER_CORE) / largestCpus);
  return Math.max(1, Math.min(input.jobs ?? Infinity, byMemory, byCpu, input.vms.length));
}

/** What the box itself uses beside the builds (kernel, sshd, page cache floor), in MiB. */
export const BOX_BASE_MIB = 256;
/** Per build, outside its container: the in-box runtime (Node) and mmdebstrap, in MiB. */
export const RUNTIME_MIB = 128;

export interface PackInput {
  /** Builds that may share a VM have the same key (box, arch, accelerator, sharing). */
  key: string;
  memoryMiB: number;
  cpus: number;
}

export interface PackPlan {
  /** Indices into the input, one array per VM, in input order. */
  builds: number[];
  /** The VM's guest memory and vCPUs. */
  memoryMiB: number;
  cpus: number;
  /** memory.max of each build's container: its equal share of what the box leaves. */
  memoryMaxMiB: number;
}

/**
 * kiwi batch --pack: builds that may share a VM go into one, at most `jobs` to a VM (all of
 * them without --jobs). The VM gets its builds' memory together, as far as the host's free
 * memory holds it, and their vCPUs up to one per host core (more only if one build asks for
 * more); each build's container is held to an equal share of the memory (memory.max). CPU
 * needs no cap: sibling cgroups share it equally by default (cpu.weight) and an idle build's
 * share goes to the busy ones.
 *
 * One vCPU per core, not two as for VMs side by side: the builds of a pack keep every vCPU
 * busy, and a guest with more vCPUs than the host has cores spends the difference waiting on
 * kernel locks held by a vCPU the host has descheduled (four builds on two cores under TCG:
 * 82–84 s with four vCPUs, 71 s with two; bench/RESULTS.md, bench/parallel).
 */
export function planPacks(input: { builds: PackInput[]; availableMiB: number; cores: number; jobs: number | undefined }): PackPlan[] {
  const groups = new Map<string, number[]>();
  input.builds.forEach((build, index) => groups.set(build.key, [...(groups.get(build.key) ?? []), index]));
  const size = input.jobs ?? Infinity;
  const plans: PackPlan[] = [];
  for (const members of groups.values()) {
    for (let start = 0; start < members.length; start += size) {
      const builds = members.slice(start, start + size);
      const wanted = builds.reduce((sum, index) => sum + input.builds[index]!.memoryMiB, 0);
      const largest = Math.max(...builds.map((index) => input.builds[index]!.memoryMiB));
      const memoryMiB = Math.max(largest, Math.min(wanted, Math.floor(input.availableMiB - HOST_RESERVE_MIB - QEMU_OVERHEAD_MIB)));
      const cpus = Math.min(
        builds.reduce((sum, index) => sum + input.builds[index]!.cpus, 0),
        Math.max(input.cores, ...builds.map((index) => input.builds[index]!.cpus)),
      );
      const memoryMaxMiB = Math.floor((memoryMiB - BOX_BASE_MIB - RUNTIME_MIB * builds.length) / builds.length);
      plans.push({ builds, memoryMiB, cpus, memoryMaxMiB });
    }
  }
  return plans;
}
