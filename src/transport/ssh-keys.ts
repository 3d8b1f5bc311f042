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
  const make = (): KeyPair => {
    const pair = utils.generateKeyPairSync('ed25519', { comment });
    return { privateKey: pair.private, publicKey: pair.public };
  };
  return { client: make(), host: make() };
}

/** The wire-format blob of a public key, as ssh2's hostVerifier receives it. */
export function publicKeyBlob(publicKey: string): Buffer {
  const parsed = utils.parseKey(publicKey);
  if (parsed instanceof Error) throw parsed;
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key) throw new Error('no key in public key text');
  return key.getPublicSSH();
}
