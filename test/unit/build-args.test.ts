import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { BuildArgsError, buildArgsToArgv, parseBuildArgs, toLoadOptions } from '../../src/builder/build-args.js';
import { loadImageModel } from '../../src/builder/description/load.js';

const env = { cwd: '/home/u/work', hostArch: 'x86_64' as const };

function failure(argv: string[]): BuildArgsError {
  try {
    parseBuildArgs(argv, env);
  } catch (error) {
    if (error instanceof BuildArgsError) return error;
    throw error;
  }
  throw new Error('expected a BuildArgsError');
}

describe('parseBuildArgs', () => {
  it('makes paths absolute against cwd and defaults the arch to the host', () => {
    expect(parseBuildArgs(['--description', 'descriptions/debian-minimal', '--target-dir=out/'], env)).toEqual({
      descriptionDir: '/home/u/work/descriptions/debian-minimal',
      targetDir: '/home/u/work/out',
      type: undefined,
      profiles: [],
      kiwiFile: undefined,
      setRepo: undefined,
      addRepos: [],
      addPackages: [],
      deletePackages: [],
      signingKeys: [],
      targetArch: 'x86_64',
    });
  });

  it('reads every option, repeatable ones in order', () => {
    const args = parseBuildArgs(
      [
        '--description', '/abs/d', '--target-dir', 't', '--type', 'oci', '--profile', 'a', '--profile=b',
        '--kiwi-file', 'other.kiwi', '--set-repo', 'http://m/debian,apt-deb,main,,,,,main contrib,bookworm',
        '--add-repo', 'this://repo,apt-deb,local,10', '--add-repo', 'https://x/%arch,,x,,true,,{k1.gpg:k2.gpg},,stable,false',
        '--add-package', 'curl', '--delete-package', 'man-db', '--signing-key', 'keys/k.gpg', '--target-arch', 'arm64',
      ],
      env,
    );
    expect(args).toMatchObject({
      descriptionDir: '/abs/d',
      targetDir: '/home/u/work/t',
      type: 'oci',
      profiles: ['a', 'b'],
      kiwiFile: 'other.kiwi',
      addPackages: ['curl'],
      deletePackages: ['man-db'],
      signingKeys: ['/home/u/work/keys/k.gpg'],
      targetArch: 'aarch64',
    });
    expect(args.setRepo).toEqual({
      source: 'http://m/debian',
      type: 'apt-deb',
      alias: 'main',
      priority: undefined,
      imageInclude: undefined,
      signingKeys: [],
      components: 'main contrib',
      distribution: 'bookworm',
      repositoryGpgCheck: undefined,
    });
    expect(args.addRepos).toEqual([
      expect.objectContaining({ source: 'this://repo', type: 'apt-deb', alias: 'local', priority: 10 }),
      expect.objectContaining({
        source: 'https://x/%arch',
        type: undefined,
        alias: 'x',
        imageInclude: true,
        signingKeys: ['k1.gpg', 'k2.gpg'],
        distribution: 'stable',
        repositoryGpgCheck: false,
      }),
    ]);
  });

  it('round-trips through buildArgsToArgv', () => {
    const argv = ['--description', '/d', '--target-dir', '/t', '--profile', 'p', '--add-repo', 'http://a/,apt-deb,a,5,,,,main,bookworm'];
    const args = parseBuildArgs(argv, env);
    expect(parseBuildArgs(buildArgsToArgv(args), env)).toEqual(args);
  });

  it('reports every problem together, one line each, exit 2', () => {
    const error = failure([
      'positional', '--type', 'iso', '--profile', '--bogus', '--set-repo', 'a', '--set-repo', 'b',
      '--add-repo', 'http://x,rpm-md,bad alias,high,maybe', '--target-arch', 'ppc64le',
    ]);
    expect(error.exitCode).toBe(2);
    expect(error.message.split('\n')).toEqual([
      'invalid build arguments:',
      '  positional: unexpected argument: build arguments are options only',
      '  --profile: needs a value',
      '  --bogus: unknown option (supported: --description, --target-dir, --type, --kiwi-file, --set-repo, --target-arch, --profile, --add-repo, --add-package, --delete-package, --signing-key)',
      '  --description: is required (the directory holding config.kiwi)',
      '  --target-dir: is required (where the image is written)',
      '  --type: "iso" is not a type kiwi builds (supported: tbz, docker, oci, oem)',
      '  --target-arch: unknown architecture "ppc64le" (supported: x86_64, aarch64)',
      '  --set-repo: given 2 times, allowed once',
      '  --add-repo http://x,rpm-md,bad alias,high,maybe: type "rpm-md" is not supported, kiwi builds with apt: use apt-deb',
      '  --add-repo http://x,rpm-md,bad alias,high,maybe: alias "bad alias" may only have letters, digits, _ . -',
      '  --add-repo http://x,rpm-md,bad alias,high,maybe: priority "high" is not a whole number',
      '  --add-repo http://x,rpm-md,bad alias,high,maybe: imageinclude "maybe" must be true or false',
    ]);
  });

  it('rejects an empty value, a --kiwi-file outside the description and unsupported repo fields', () => {
    expect(failure(['--description=', '--target-dir', 't']).problems).toEqual([{ where: '--description', message: 'needs a non-empty value' }]);
    expect(failure(['--description', 'd', '--target-dir', 't', '--kiwi-file', '../x.kiwi']).problems).toEqual([
      { where: '--kiwi-file', message: '"../x.kiwi" must be a file name inside the description directory' },
    ]);
    expect(failure(['--description', 'd', '--target-dir', 't', '--add-repo', 'http://x,,,,,true,,,,,metalink']).problems).toEqual([
      { where: '--add-repo http://x,,,,,true,,,,,metalink', message: 'package_gpgcheck is not supported with apt (apt checks repository signatures)' },
      { where: '--add-repo http://x,,,,,true,,,,,metalink', message: 'sourcetype "metalink" is not supported with apt' },
    ]);
  });

  it('feeds loadImageModel: the checked arguments select profile, type and packages', () => {
    const fixtures = resolve(__dirname, '../fixtures/descriptions');
    const args = parseBuildArgs(
      ['--description', 'profiles', '--target-dir', '/t', '--profile', 'container', '--type', 'oci', '--add-package', 'curl'],
      { cwd: fixtures, hostArch: 'x86_64' },
    );
    const model = loadImageModel(toLoadOptions(args));
    expect([model.profiles, model.type.image, model.packages.image]).toEqual([['container'], 'oci', ['curl', 'xterm']]);
  });
});
