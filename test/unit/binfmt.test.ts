import { describe, expect, it } from 'vitest';
import { ensureEmulation, parseBinfmtEntry, parseBinfmtLine } from '../../src/common/binfmt.js';

describe('binfmt_misc', () => {
  it('parses registrations into name, interpreter and flags', () => {
    expect(parseBinfmtLine(':qemu-aarch64:M::\\x7fELF:\\xff\\xff:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:OPF')).toEqual({
      name: 'qemu-aarch64',
      interpreter: '/usr/libexec/qemu-binfmt/aarch64-binfmt-P',
      flags: 'OPF',
    });
    expect(parseBinfmtLine('# comment')).toBeUndefined();
    expect(parseBinfmtLine(':broken:M')).toBeUndefined();
  });

  it('reads the kernel\'s view of an entry: enabled, interpreter, flags', () => {
    const text = 'enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POCF\noffset 0\nmagic 7f454c46\nmask ffffffff\n';
    expect(parseBinfmtEntry(text)).toEqual({ enabled: true, interpreter: '/usr/libexec/qemu-binfmt/aarch64-binfmt-P', flags: 'POCF' });
    expect(parseBinfmtEntry('disabled\ninterpreter /x\nflags: \n')).toEqual({ enabled: false, interpreter: '/x', flags: '' });
  });

  it('needs nothing when the target is the host\'s arch', () => {
    expect(ensureEmulation('x86_64', 'x86_64')).toEqual({ kind: 'native' });
    expect(ensureEmulation('aarch64', 'aarch64')).toEqual({ kind: 'native' });
  });
});
