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
