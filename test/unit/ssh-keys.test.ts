import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import { generateVmKeys, publicKeyBlob } from '../../src/transport/ssh-keys.js';

describe('per-VM SSH keys', () => {
  it('makes fresh ed25519 pairs that parse, every time (ssh2 drops a zero byte in ~1/256)', () => {
    const blobs = new Set<string>();
    for (let i = 0; i < 600; i += 1) {
      const { client, host } = generateVmKeys('test');
      for (const pair of [client, host]) {
        expect(ssh2.utils.parseKey(pair.privateKey)).not.toBeInstanceOf(Error);
        const blob = publicKeyBlob(pair.publicKey);
        expect(blob.length).toBe(51);
        blobs.add(blob.toString('hex'));
      }
    }
    expect(blobs.size).toBe(1200);
  });
});
