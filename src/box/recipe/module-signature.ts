/**
 * A signed kernel module ends in its PKCS#7 signature, a 12-byte `struct module_signature`
 * whose last four bytes are the signature's length (big-endian), and this marker.
 */
const MARKER = Buffer.from('~Module signature appended~\n');
const INFO_BYTES = 12;

/**
 * The module without its appended signature (unchanged when it has none). Pure. The box's
 * kernel does not enforce signatures, but it checks every signature it finds: under TCG the
 * hashing of the initramfs's 5 MB of modules is emulated and cost 0.06 s of every boot.
 */
export function withoutSignature(module: Buffer, name = 'the module'): Buffer {
  if (module.length < MARKER.length + INFO_BYTES) return module;
  if (!module.subarray(module.length - MARKER.length).equals(MARKER)) return module;
  const info = module.length - MARKER.length - INFO_BYTES;
  const signatureBytes = module.readUInt32BE(info + INFO_BYTES - 4);
  const end = info - signatureBytes;
  if (end <= 0) throw new Error(`${name}: its signature of ${signatureBytes} bytes is longer than the module`);
  return module.subarray(0, end);
}
