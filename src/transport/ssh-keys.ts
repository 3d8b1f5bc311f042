import ssh2 from 'ssh2';

// ssh2 is CommonJS: Node gives ESM only its default export.
const { utils } = ssh2;

/** An ed25519 key pair in OpenSSH formats. */
export interface KeyPair {
  /** "-----BEGIN OPENSSH PRIVATE KEY-----..." */
  privateKey: string;
  /** "ssh-ed25519 AAAA... comment" */
  publicKey: string;
}

/**
 * The SSH material of one VM: a client key kiwi logs in with and the guest's host key.
 * Both are made fresh per VM and handed to the guest at boot, so no private key ships
 * in a box and kiwi knows the host key before it connects.
 */
export interface VmKeys {
  client: KeyPair;
  host: KeyPair;
}

export function generateVmKeys(comment = 'kiwi'): VmKeys {
  return { client: generateEd25519(comment), host: generateEd25519(comment) };
}

/**
 * An ed25519 pair that parses. ssh2 1.17 drops a leading zero byte of the key about once in
 * 256 pairs, and such a key neither parses nor authenticates: it is made again.
 */
export function generateEd25519(comment: string): KeyPair {
  for (;;) {
    const pair = utils.generateKeyPairSync('ed25519', { comment });
    if (!(utils.parseKey(pair.public) instanceof Error) && !(utils.parseKey(pair.private) instanceof Error)) {
      return { privateKey: pair.private, publicKey: pair.public };
    }
  }
}

/** The wire-format blob of a public key, as ssh2's hostVerifier receives it. */
export function publicKeyBlob(publicKey: string): Buffer {
  const parsed = utils.parseKey(publicKey);
  if (parsed instanceof Error) throw parsed;
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key) throw new Error('no key in public key text');
  return key.getPublicSSH();
}
