import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Repository } from '../../src/builder/description/model.js';
import { aptListName, inReleaseUrl, savedListsCurrent } from '../../src/builder/steps/apt-lists-current.js';
import { tempDir } from '../fixtures/temp-dir.js';

const NOW = new Date('2026-12-06T12:00:00Z');
const inRelease = (suite: string, validUntil?: string) => `-----BEGIN PGP SIGNED MESSAGE-----\nSuite: ${suite}\nDate: Sat, 05 Dec 2026 03:33:28 UTC\n${validUntil ? `Valid-Until: ${validUntil}\n` : ''}`;

/** What the test's repository server serves, by path. */
const served = new Map<string, string>();
let server: http.Server;
let base: string;

beforeAll(async () => {
  server = http.createServer((request, response) => {
    const body = served.get(request.url ?? '');
    response.writeHead(body === undefined ? 404 : 200).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const repo = (overrides: Partial<Repository>): Repository => ({
  xmlPath: '/image/repository[1]',
  alias: 'main',
  type: 'apt-deb',
  source: `${base}/debian`,
  uri: `${base}/debian`,
  localPath: undefined,
  distribution: 'bookworm',
  components: ['main'],
  architectures: [],
  priority: undefined,
  imageInclude: false,
  repositoryGpgCheck: undefined,
  signingKeys: [],
  useForBootstrap: false,
  ...overrides,
});

/** A build's restored lists: the saved InRelease of each repository, as apt named it. */
function savedLists(files: Record<string, string>): string {
  const dir = tempDir('kiwi-lists-');
  for (const [url, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, aptListName(url)), text);
  return dir;
}

describe('whether the saved apt index files are current', () => {
  it('names a list file as apt does: host and path, "/" as "_", "_" quoted', () => {
    expect(aptListName('http://deb.debian.org/debian/dists/bookworm/InRelease')).toBe('deb.debian.org_debian_dists_bookworm_InRelease');
    expect(aptListName('https://user:secret@mirror.example:8080/debian-security/dists/bookworm-security/InRelease')).toBe(
      'mirror.example:8080_debian-security_dists_bookworm-security_InRelease',
    );
    expect(aptListName('http://m.example/my_repo/dists/x/InRelease')).toBe('m.example_my%5frepo_dists_x_InRelease');
  });

  it('yes, when every repository serves the InRelease saved with them, still valid', async () => {
    const main = repo({});
    const security = repo({ alias: 'security', uri: `${base}/debian-security/`, distribution: 'bookworm-security' });
    served.set('/debian/dists/bookworm/InRelease', inRelease('stable'));
    served.set('/debian-security/dists/bookworm-security/InRelease', inRelease('stable-security', 'Sat, 12 Dec 2026 03:33:28 UTC'));
    expect(inReleaseUrl(security)).toBe(`${base}/debian-security/dists/bookworm-security/InRelease`);
    const lists = savedLists({ [inReleaseUrl(main)!]: inRelease('stable'), [inReleaseUrl(security)!]: inRelease('stable-security', 'Sat, 12 Dec 2026 03:33:28 UTC') });
    expect(await savedListsCurrent([main, security], lists, { now: NOW })).toEqual({ current: true });
  });

  it('no, when a repository serves another InRelease, or the saved one expired, naming why', async () => {
    const main = repo({});
    served.set('/debian/dists/bookworm/InRelease', inRelease('stable'));
    const changed = savedLists({ [inReleaseUrl(main)!]: inRelease('oldstable') });
    expect(await savedListsCurrent([main], changed, { now: NOW })).toEqual({ current: false, reason: 'main changed (its InRelease differs)' });
    served.set('/debian/dists/bookworm/InRelease', inRelease('stable', 'Sat, 05 Dec 2026 03:33:28 UTC'));
    const expired = savedLists({ [inReleaseUrl(main)!]: inRelease('stable', 'Sat, 05 Dec 2026 03:33:28 UTC') });
    expect(await savedListsCurrent([main], expired, { now: NOW })).toEqual({ current: false, reason: 'the saved InRelease of main expired (Sat, 05 Dec 2026 03:33:28 UTC)' });
  });

  it('no, when nothing was saved for a repository or it cannot be reached: the update runs and reports it', async () => {
    const main = repo({});
    served.set('/debian/dists/bookworm/InRelease', inRelease('stable'));
    expect(await savedListsCurrent([main], savedLists({}), { now: NOW })).toEqual({ current: false, reason: 'no saved InRelease of main' });
    const gone = repo({ uri: `${base}/gone`, alias: 'gone' });
    const lists = savedLists({ [inReleaseUrl(gone)!]: inRelease('stable') });
    expect(await savedListsCurrent([gone], lists, { now: NOW })).toEqual({ current: false, reason: `${base}/gone/dists/bookworm/InRelease: HTTP 404` });
    expect(await savedListsCurrent([repo({ uri: `${base}/bad%zz` })], savedLists({}), { now: NOW })).toEqual({ current: false, reason: 'no saved InRelease of main' });
    const closed = repo({ uri: 'http://127.0.0.1:1/debian' });
    const check = await savedListsCurrent([closed], savedLists({ [inReleaseUrl(closed)!]: inRelease('stable') }), { now: NOW });
    expect(check).toMatchObject({ current: false, reason: expect.stringMatching(/^http:\/\/127\.0\.0\.1:1\/debian\/dists\/bookworm\/InRelease: /) });
  });

  it('no, for local and flat repositories, which apt reads in place', async () => {
    const local = repo({ alias: 'mine', uri: 'file:///srv/repo', localPath: '/srv/repo', distribution: undefined });
    const flat = repo({ alias: 'flat', distribution: undefined });
    expect(inReleaseUrl(local)).toBeUndefined();
    expect(inReleaseUrl(flat)).toBeUndefined();
    expect(await savedListsCurrent([repo({}), local], savedLists({}), { now: NOW })).toMatchObject({ current: false });
    expect(await savedListsCurrent([flat], savedLists({}), { now: NOW })).toEqual({ current: false, reason: 'flat is a local or flat repository' });
  });

  it('an aborted build stops the check with its reason', async () => {
    const main = repo({});
    const lists = savedLists({ [inReleaseUrl(main)!]: inRelease('stable') });
    const controller = new AbortController();
    controller.abort(new Error('stopped by SIGINT'));
    await expect(savedListsCurrent([main], lists, { now: NOW, signal: controller.signal })).rejects.toThrow('stopped by SIGINT');
  });
});
