import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { compressedName, resultNames } from '../../src/builder/outputs/naming.js';
import { BuildFailedError, UsageError } from '../../src/common/errors.js';
import { errorFromEvent, runBoxBuilds, runBoxRuntime, RuntimeVanishedError, withConsoleTail } from '../../src/schedule/box-runtime-client.js';
import type { SshSession } from '../../src/transport/ssh-session.js';
import type { Writable } from 'node:stream';
import type { RuntimeEvent } from '../../src/protocol/events.js';
import { boxBuildShares, containerShares } from '../../src/schedule/same-path-shares.js';
import { compressImage } from '../../src/builder/outputs/compress-image.js';
import { removeBuildLeftovers } from '../../src/schedule/finish-image.js';
import { runtimeBundlePath } from '../../src/schedule/runtime-bundle.js';
import { boxBuildsArgv, parseBoxBuildsArgv } from '../../src/runtime/box-build-command.js';
import { parseContainerSpec } from '../../src/runtime/spec-json.js';
import { tempDir } from '../fixtures/temp-dir.js';

const model = { name: 'debian-minimal', arch: 'x86_64', preferences: { version: '1.0.0' }, type: { image: 'tbz' } } as never;

describe('the in-box runtime\'s builds command', () => {
  it('carries each build\'s own options before its BUILD ARGS, and reads them back', () => {
    const builds = [
      { options: { keepFailedRoot: true, memoryMaxBytes: 1536 * 1024 ** 2 }, buildArgv: ['--description', '/d', '--target-dir', '/t'] },
      { options: { keepFailedRoot: false, memoryMaxBytes: undefined }, buildArgv: ['--description', '/e', '--target-dir', '/u'] },
    ];
    const argv = boxBuildsArgv(builds);
    expect(argv).toEqual(['builds', JSON.stringify([['--keep-failed-root', '--memory-max', '1610612736', '--description', '/d', '--target-dir', '/t'], ['--description', '/e', '--target-dir', '/u']])]);
    expect(parseBoxBuildsArgv(argv[1]!)).toEqual([{ ...builds[0], options: { keepFailedRoot: true, memoryMaxBytes: 1610612736 } }, builds[1]]);
  });

  it('refuses what is not one argument array per build', () => {
    expect(() => parseBoxBuildsArgv('[["--memory-max", "1G"]]')).toThrow('--memory-max "1G" is not a number of bytes');
    for (const bad of ['--description', '[]', '["--description"]', '[[1]]']) {
      expect(() => parseBoxBuildsArgv(bad), bad).toThrow('builds takes a JSON array of argument arrays, one per build');
    }
  });
});

describe('boxbuild shares', () => {
  it('shares the description read-only and the target dir writable, each at its host path, parents first', () => {
    const shares = boxBuildShares({ descriptionDir: '/home/u/desc', targetDir: '/home/u/desc/out', sharedPaths: ['/srv/repo'], repositoryPaths: [] });
    expect(shares).toEqual([
      { hostDir: '/srv/repo', guestDir: '/srv/repo', readOnly: false },
      { hostDir: '/home/u/desc', guestDir: '/home/u/desc', readOnly: true },
      { hostDir: '/home/u/desc/out', guestDir: '/home/u/desc/out', readOnly: false },
    ]);
  });

  it('shares the description\'s local repositories read-only, those inside it with it', () => {
    const shares = boxBuildShares({ descriptionDir: '/home/u/desc', targetDir: '/home/u/out', sharedPaths: [], repositoryPaths: ['/srv/debs', '/home/u/desc/local-repo'] });
    expect(shares.map((share) => [share.guestDir, share.readOnly])).toEqual([
      ['/srv/debs', true],
      ['/home/u/desc', true],
      ['/home/u/out', false],
    ]);
  });

  it('builds packed into one box share one description once and each their own target dir', () => {
    const shares = boxBuildShares(
      { descriptionDir: '/work/d', targetDir: '/work/out/a', sharedPaths: [], repositoryPaths: [] },
      { descriptionDir: '/work/d', targetDir: '/work/out/b', sharedPaths: [], repositoryPaths: [] },
    );
    expect(shares.map((share) => [share.guestDir, share.readOnly])).toEqual([
      ['/work/d', true],
      ['/work/out/a', false],
      ['/work/out/b', false],
    ]);
  });

  it('shares a directory named twice once, writable if either is', () => {
    const shares = boxBuildShares({ descriptionDir: '/work/d', targetDir: '/work/out', sharedPaths: ['/work/d'], repositoryPaths: [] });
    expect(shares).toEqual([
      { hostDir: '/work/d', guestDir: '/work/d', readOnly: false },
      { hostDir: '/work/out', guestDir: '/work/out', readOnly: false },
    ]);
  });

  it('shares what a kiwi run --box container uses: root read-only, bind directories as asked, the --commit parent writable', () => {
    const spec = {
      root: { kind: 'image' as const, path: '/home/u/out/min.tar.xz' },
      argv: ['true'],
      limits: {},
      network: 'box' as const,
      hostname: 'kiwi',
      binds: [
        { source: '/srv/data', target: '/data', readOnly: true },
        { source: '/home/u/notes.txt', target: '/notes.txt', readOnly: false },
      ],
      commitDir: '/home/u/saved/root',
      workdir: '/',
    };
    const shares = containerShares(spec, (file) => !file.endsWith('.txt'));
    expect(shares.map((share) => [share.guestDir, share.readOnly])).toEqual([
      ['/srv/data', true],
      ['/home/u', false],
      ['/home/u/out', true],
      ['/home/u/saved', false],
    ]);
    expect(shares.every((share) => share.hostDir === share.guestDir)).toBe(true);
  });

  it('refuses paths that would cover the box\'s own directories, with a usage error', () => {
    for (const dir of ['/usr/local/out', '/var', '/tmp', '/etc/kiwi', '/', '/root']) {
      expect(() => boxBuildShares({ descriptionDir: '/home/u/desc', targetDir: dir, sharedPaths: [], repositoryPaths: [] }), dir).toThrow(UsageError);
    }
    expect(() => boxBuildShares({ descriptionDir: '/home/u/desc', targetDir: '/tmp/out', sharedPaths: ['/var/tmp/repo'], repositoryPaths: [] })).not.toThrow();
  });
});

describe('deferred compression of a box build\'s image', () => {
  function boxResult(dir: string) {
    const names = resultNames(model, false);
    const image = path.join(dir, names.image);
    const root = tempDir();
    fs.writeFileSync(path.join(root, 'hello'), 'hello from the box\n');
    execFileSync('tar', ['-C', root, '-cf', image, '.']);
    const result = path.join(dir, 'kiwi.result.json');
    const json = { image: {}, result_files: { root_archive: { filename: image, use_for_bundle: true, compress: true, shasum: true }, image_packages: { filename: path.join(dir, names.packages), use_for_bundle: true, compress: false, shasum: false } }, build: {} };
    fs.writeFileSync(result, JSON.stringify(json));
    return { type: 'build' as const, image, packages: path.join(dir, names.packages), result, log: path.join(dir, 'build/image-root.log'), sizeBytes: 0, seconds: 1, bootstrap: 'built' as const, peakMemoryBytes: null, compressionDeferred: true };
  }

  it('xz-compresses the .tar into its final name, removes the .tar and points kiwi.result.json at it', async () => {
    const dir = tempDir();
    const { event: finished, stats } = await compressImage(boxResult(dir), tempDir());
    expect(stats).toMatchObject({ chunks: 1, reused: 0 });
    expect(finished.image).toBe(path.join(dir, 'debian-minimal.x86_64-1.0.0.tar.xz'));
    expect(finished.compressionDeferred).toBeUndefined();
    expect(finished.sizeBytes).toBe(fs.statSync(finished.image).size);
    expect(fs.existsSync(path.join(dir, 'debian-minimal.x86_64-1.0.0.tar'))).toBe(false);
    expect(execFileSync('tar', ['-xJOf', finished.image, './hello'], { encoding: 'utf8' })).toBe('hello from the box\n');
    const json = JSON.parse(fs.readFileSync(finished.result, 'utf8'));
    expect(json.result_files.root_archive).toEqual({ filename: finished.image, use_for_bundle: true, compress: false, shasum: true });
    expect(fs.readdirSync(dir).sort()).toEqual(['debian-minimal.x86_64-1.0.0.tar.xz', 'kiwi.result.json']);
  });

  it('after a failed build removes the half-written results and the intermediate .tar, and nothing else', () => {
    const dir = tempDir();
    const { image } = boxResult(dir);
    const names = resultNames(model, false);
    fs.writeFileSync(path.join(dir, `.${names.packages}.4711.tmp`), '');
    fs.writeFileSync(path.join(dir, `.${compressedName(names.image)}.99.tmp`), '');
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    fs.writeFileSync(path.join(dir, `.${names.packages}.mine.tmp`), 'not kiwi\'s pattern');
    fs.writeFileSync(path.join(dir, compressedName(names.image)), 'an earlier build\'s image');
    removeBuildLeftovers(dir, names);
    expect(fs.existsSync(image)).toBe(false);
    expect(fs.readdirSync(dir).sort()).toEqual([`.${names.packages}.mine.tmp`, compressedName(names.image), 'notes.txt']);
  });
});

describe('box runtime protocol, host side', () => {
  it('turns an error event into the error of its exit code, with its hint', () => {
    const error = errorFromEvent({ type: 'error', message: 'bad --type', exitCode: 2, hint: 'use tbz' });
    expect(error).toBeInstanceOf(UsageError);
    expect([error.message, error.hint, error.exitCode]).toEqual(['bad --type', 'use tbz', 2]);
    expect(errorFromEvent({ type: 'error', message: 'x', exitCode: 3 }).exitCode).toBe(3);
    expect(errorFromEvent({ type: 'error', message: 'x', exitCode: 1 }).exitCode).toBe(1);
  });

  /** What the box runtime's SSH channel delivers: stdout text, stderr text, exit code. */
  function channel(stdout: string, stderr: string, exitCode: number | null, connectionError?: string, commands: string[] = []): SshSession {
    return {
      connectionError: () => connectionError,
      exec: async (command: string, streams: { stdout: Writable; stderr: Writable }) => {
        commands.push(command);
        // In pieces, the way the channel delivers them, the last line without its newline.
        for (let at = 0; at < stdout.length; at += 7) streams.stdout.write(stdout.slice(at, at + 7));
        streams.stderr.write(stderr);
        return { exitCode, signal: exitCode === null ? 'KILL' : null };
      },
    } as unknown as SshSession;
  }

  it('reads the runtime\'s events from its output and resolves with the last build or result event', async () => {
    const seen: RuntimeEvent[] = [];
    const lines = ['{"type":"step","id":"bootstrap","state":"start"}', 'stray text', '{"type":"build","image":"/t/i.tar","packages":"/t/p","result":"/t/r","log":"/t/l","sizeBytes":1,"seconds":2,"bootstrap":"cached","peakMemoryBytes":null}'];
    const commands: string[] = [];
    const last = await runBoxRuntime(channel(lines.join('\n'), 'a warning\n', 0, undefined, commands), ['build', '--x y'], (event) => seen.push(event), { compileCache: '/c/node cache' });
    expect(commands).toEqual(["NODE_COMPILE_CACHE='/c/node cache' exec /opt/kiwi/node/bin/node /run/kiwi-box-runtime.mjs build '--x y'"]);
    expect(last).toMatchObject({ type: 'build', image: '/t/i.tar' });
    expect(seen.map((event) => event.type)).toEqual(['step', 'log', 'log', 'build']);
    expect(seen.filter((event) => event.type === 'log').map((event) => (event as { message: string }).message)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^box runtime: not a JSON event line: stray text/), 'box runtime: a warning']),
    );
  });

  it('fails when the runtime ends without a result, or ends with an error event', async () => {
    await expect(runBoxRuntime(channel('{"type":"step","id":"x","state":"start"}\n', 'Segmentation fault\n', 0), ['build'], () => undefined)).rejects.toThrow(/exited 0 without a result:\nSegmentation fault/);
    await expect(runBoxRuntime(channel('', '', null), ['build'], () => undefined)).rejects.toThrow(/was killed by KILL without a result/);
    await expect(runBoxRuntime(channel('', '', null, 'Keepalive timeout'), ['build'], () => undefined)).rejects.toThrow(/lost its SSH connection \(Keepalive timeout\) without a result/);
    await expect(runBoxRuntime(channel('{"type":"error","message":"bad --type","exitCode":2}\n', '', 2), ['build'], () => undefined)).rejects.toBeInstanceOf(UsageError);
  });

  it('gives each build of a pack its own events and outcome; what no build owns goes to all', async () => {
    const seen: Array<Array<[string, string]>> = [[], [], []];
    const tagged = (buildIndex: number, event: object): string => JSON.stringify({ ...event, buildIndex });
    const lines = [
      tagged(1, { type: 'step', id: 'packages', state: 'start' }),
      tagged(0, { type: 'build', image: '/t/i.tar', packages: '/t/p', result: '/t/r', log: '/t/l', sizeBytes: 1, seconds: 2, bootstrap: 'cached', peakMemoryBytes: null }),
      tagged(1, { type: 'error', message: 'config.sh failed', exitCode: 1 }),
      tagged(2, { type: 'step', id: 'packages', state: 'start' }),
      tagged(3, { type: 'step', id: 'packages', state: 'start' }),
      '{"type":"step","id":"untagged","state":"start"}',
    ];
    const commands: string[] = [];
    const outcomes = await runBoxBuilds(
      channel(lines.join('\n'), 'a warning\n', 1, undefined, commands),
      seen.map((events, index) => ({
        request: { options: { keepFailedRoot: false, memoryMaxBytes: undefined }, buildArgv: ['--description', `/d ${index}`] },
        emit: (event: RuntimeEvent) => events.push([event.type, 'id' in event ? event.id : 'message' in event ? event.message : '']),
      })),
    );
    expect(commands).toEqual([`exec /opt/kiwi/node/bin/node /run/kiwi-box-runtime.mjs builds '[["--description","/d 0"],["--description","/d 1"],["--description","/d 2"]]'`]);
    expect(outcomes[0]).toMatchObject({ status: 'fulfilled', value: { type: 'build', image: '/t/i.tar' } });
    expect(outcomes[1]).toMatchObject({ status: 'rejected', reason: { message: 'config.sh failed' } });
    // Build 2 started and never ended: the runtime exited without its result.
    expect(outcomes[2]).toMatchObject({ status: 'rejected', reason: expect.any(RuntimeVanishedError) });
    const shared = [
      ['log', expect.stringMatching(/^box runtime: an event of build 3 of 3/)],
      ['log', expect.stringMatching(/^box runtime: event without a build index/)],
      ['log', 'box runtime: a warning'],
    ];
    expect(seen[0]).toEqual(expect.arrayContaining([['build', ''], ...shared]));
    expect(seen[1]).toEqual(expect.arrayContaining([['step', 'packages'], ['error', 'config.sh failed'], ...shared]));
    expect(seen[0]).toHaveLength(4);
    expect(seen[1]).toHaveLength(5);
  });

  it('adds the box console\'s last lines to a runtime that vanished, and leaves other errors as they are', async () => {
    const vanished = await runBoxRuntime(channel('', '', null), ['build'], () => undefined).catch((error: unknown) => error);
    const shown = (await withConsoleTail(vanished, async () => 'Out of memory: Killed process 42 (node)')) as Error;
    expect(shown.message).toMatch(/was killed by KILL without a result\nconsole \(last lines\):\nOut of memory: Killed process 42/);
    expect(shown).toBeInstanceOf(BuildFailedError);
    const usage = new UsageError('bad --type');
    expect(await withConsoleTail(usage, async () => 'anything')).toBe(usage);
  });

  it('finds the runtime bundle in the package\'s dist/ from any module inside the package', () => {
    const pkg = tempDir();
    fs.writeFileSync(path.join(pkg, 'package.json'), '{}');
    fs.mkdirSync(path.join(pkg, 'dist', 'schedule'), { recursive: true });
    expect(() => runtimeBundlePath(path.join(pkg, 'dist', 'schedule', 'runtime-bundle.js'))).toThrow(/box-runtime.mjs is missing.*/);
    fs.writeFileSync(path.join(pkg, 'dist', 'box-runtime.mjs'), '');
    expect(runtimeBundlePath(path.join(pkg, 'dist', 'schedule', 'runtime-bundle.js'))).toBe(path.join(pkg, 'dist', 'box-runtime.mjs'));
  });

  it('checks a container spec sent into the box', () => {
    const spec = { root: { kind: 'dir', path: '/r' }, argv: ['true'], limits: { memoryBytes: 1024 }, network: 'none', hostname: 'kiwi', binds: [], workdir: '/' };
    expect(parseContainerSpec(JSON.stringify(spec))).toEqual(spec);
    expect(() => parseContainerSpec(JSON.stringify({ ...spec, root: { kind: 'dir', path: 'relative' } }))).toThrow(/root.path/);
    expect(() => parseContainerSpec('{')).toThrow(UsageError);
  });
});
