import { describe, expect, it } from 'vitest';
import { REQUIREMENTS } from '../../src/vm/requirements.js';
import { tempDir } from '../fixtures/box-fixture.js';
import { runKiwi } from '../fixtures/run-kiwi.js';

describe('kiwi doctor', () => {
  it('reports each requirement, the package of what is missing, disk space and KVM', async () => {
    const result = await runKiwi(['doctor'], { env: { KIWI_BOXED_CACHE_DIR: tempDir() } });
    for (const requirement of REQUIREMENTS) {
      expect(result.stdout).toMatch(new RegExp(`^(ok|missing|MISSING) +${requirement.name.replace(/[()]/g, '\\$&')} `, 'm'));
    }
    expect(result.stdout).toMatch(/^(ok|LOW) +disk space +[\d.]+ \w+ free in /m);
    expect(result.stdout).toMatch(/^(ok|no|\?) +KVM /m);
    expect(result.exitCode).toBe(result.stdout.includes('MISSING') ? 3 : 0);
  });

  it('fails with exit code 3 and names the package when qemu is missing', async () => {
    // An empty PATH hides every command that is looked up there, such as qemu-system-x86_64.
    const result = await runKiwi(['doctor'], { env: { PATH: tempDir(), KIWI_BOXED_CACHE_DIR: tempDir() } });
    expect(result.exitCode).toBe(3);
    expect(result.stdout).toMatch(/^MISSING +qemu-system-x86_64 +install package qemu-system-x86 +for x86_64 boxes$/m);
    expect(result.stdout).toMatch(/^missing +qemu-system-aarch64 +install package qemu-system-arm +for aarch64 boxes/m);
    expect(result.stdout).toMatch(/^missing +arch-test +install package arch-test +for building boxes of another architecture/m);
    expect(result.stdout).toMatch(/^to install what is missing: kiwi doctor --fix {3}\(apt-get install .*qemu-system-x86.*\)$/m);
  });
});
