import { describe, expect, it } from 'vitest';
import { requestedArch } from '../../src/cli/box-options.js';
import { boxArchFor, defaultCrossMethod, parseCrossChoice } from '../../src/schedule/cross-method.js';

describe('cross-arch method', () => {
  it('a host-arch image needs no method and builds in the host\'s box, whatever --cross says', () => {
    expect(boxArchFor('x86_64', 'x86_64', 'vm', undefined)).toEqual({ boxArch: 'x86_64', cross: undefined });
    expect(boxArchFor('aarch64', 'aarch64', 'binfmt', true)).toEqual({ boxArch: 'aarch64', cross: undefined });
  });

  it('vm boots the target\'s box; binfmt builds in the host\'s box', () => {
    expect(boxArchFor('aarch64', 'x86_64', 'vm', true)).toEqual({ boxArch: 'aarch64', cross: 'vm' });
    expect(boxArchFor('aarch64', 'x86_64', 'binfmt', false)).toEqual({ boxArch: 'x86_64', cross: 'binfmt' });
  });

  it('by default binfmt when KVM runs this host\'s box, else (TCG, or not known yet) vm', () => {
    expect(defaultCrossMethod(true)).toBe('binfmt');
    expect(defaultCrossMethod(false)).toBe('vm');
    expect(defaultCrossMethod(undefined)).toBe('vm');
    expect(boxArchFor('aarch64', 'x86_64', 'auto', false)).toEqual({ boxArch: 'aarch64', cross: 'vm' });
    expect(boxArchFor('aarch64', 'x86_64', 'auto', true)).toEqual({ boxArch: 'x86_64', cross: 'binfmt' });
  });

  it('--cross takes vm, binfmt or auto; anything else is a usage error naming the choices', () => {
    expect(parseCrossChoice(undefined)).toBe('auto');
    expect(parseCrossChoice('vm')).toBe('vm');
    expect(parseCrossChoice('binfmt')).toBe('binfmt');
    expect(() => parseCrossChoice('user')).toThrow('--cross user: not a cross-build method');
  });

  it('--aarch64, --x86_64 and --arch name one architecture, or conflict', () => {
    expect(requestedArch({})).toBeUndefined();
    expect(requestedArch({ aarch64: true })).toBe('aarch64');
    expect(requestedArch({ arch: 'arm64', aarch64: true })).toBe('aarch64');
    expect(() => requestedArch({ x86_64: true, aarch64: true })).toThrow('conflicting architectures');
  });
});
