/**
 * An ELF64 (little-endian) executable whose loadable segments no longer carry their trailing
 * zero bytes as file data: each PT_LOAD's p_filesz ends at its last non-zero byte, and the
 * loader zero-fills up to p_memsz as it does for any .bss. Pure; returns a patched copy.
 *
 * Why: Debian's vmlinux holds its .bss, .brk and init scratch (23 MiB) as zeros in the file.
 * QEMU keeps the kernel file it loaded mapped for the VM's whole life (to reload it on a
 * reset) and every page it copied from counts in the QEMU process's resident memory.
 */
const PT_LOAD = 1;

export function withoutZeroTails(elf: Buffer): Buffer {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46) throw new Error('not an ELF file');
  if (elf[4] !== 2 || elf[5] !== 1) throw new Error('not a little-endian 64-bit ELF file');
  const patched = Buffer.from(elf);
  const headers = Number(elf.readBigUInt64LE(0x20));
  const entrySize = elf.readUInt16LE(0x36);
  const count = elf.readUInt16LE(0x38);
  if (headers + entrySize * count > elf.length) throw new Error('its program headers lie outside the file');
  for (let index = 0; index < count; index += 1) {
    const header = headers + index * entrySize;
    if (elf.readUInt32LE(header) !== PT_LOAD) continue;
    const offset = Number(elf.readBigUInt64LE(header + 8));
    const fileSize = Number(elf.readBigUInt64LE(header + 32));
    if (offset + fileSize > elf.length) throw new Error(`its segment ${index} lies outside the file`);
    let end = offset + fileSize;
    while (end > offset && elf[end - 1] === 0) end -= 1;
    patched.writeBigUInt64LE(BigInt(end - offset), header + 32);
  }
  return patched;
}
