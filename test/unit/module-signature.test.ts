import { describe, expect, it } from 'vitest';
import { withoutSignature } from '../../src/box/recipe/module-signature.js';

const MARKER = '~Module signature appended~\n';

/** A module as sign-file leaves it: ELF bytes, the signature, struct module_signature, the marker. */
function signed(body: Buffer, signature: Buffer): Buffer {
  const info = Buffer.alloc(12);
  info[2] = 2; // id_type PKEY_ID_PKCS7, as sign-file writes it
  info.writeUInt32BE(signature.length, 8);
  return Buffer.concat([body, signature, info, Buffer.from(MARKER)]);
}

describe('withoutSignature', () => {
  const body = Buffer.from('\x7fELF module text and data');

  it('cuts the signature, its info block and the marker off a signed module', () => {
    expect(withoutSignature(signed(body, Buffer.alloc(475, 0xab))).equals(body)).toBe(true);
  });

  it('leaves an unsigned module as it is', () => {
    expect(withoutSignature(body)).toBe(body);
    expect(withoutSignature(Buffer.from(MARKER.slice(1)))).toEqual(Buffer.from(MARKER.slice(1)));
  });

  it('refuses a signature length that reaches past the module', () => {
    const broken = signed(body, Buffer.alloc(10));
    broken.writeUInt32BE(body.length + 10, broken.length - MARKER.length - 4);
    expect(() => withoutSignature(broken)).toThrow(/longer than the module/);
  });
});
