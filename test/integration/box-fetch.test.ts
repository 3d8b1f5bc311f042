import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mergeEntry, type Catalog } from '../../src/box/catalog.js';
import { ChecksumMismatchError, DownloadError } from '../../src/box/download.js';
import { ensureBox, type EnsureBoxOptions } from '../../src/box/ensure-box.js';
import { pruneCache } from '../../src/box/prune-cache.js';
import { EnvironmentError } from '../../src/common/errors.js';
import { listTree, makeFixtureBox, tempDir, writeFixtureBox, type FixtureBox } from '../fixtures/box-fixture.js';
import { FaultServer } from '../fixtures/fault-server.js';

/** Short timings so faults resolve in milliseconds. */
const FAST = { baseDelayMs: 10, maxDelayMs: 50, speedWindowMs: 300, minBytesPerSecond: 256 * 1024, responseTimeoutMs: 2000 };
const DISK = '/testbox/x86_64/root.qcow2';

let server: FaultServer;
let baseUrl: string;
let root: string;
let catalog: Catalog;

function publish(box: FixtureBox, name = 'testbox'): void {
  for (const [file, bytes] of Object.entries(box.files)) server.serve(`/${name}/x86_64/${file}`, bytes);
  server.serve(`/${name}/x86_64/box.json`, JSON.stringify(box.manifest));
}

function fetchBox(overrides: Partial<EnsureBoxOptions> = {}): ReturnType<typeof ensureBox> {
  return ensureBox({ root, catalog, name: 'testbox', arch: 'x86_64', updateCheck: true, policy: FAST, ...overrides });
}

/** Nothing visible but complete versions; no staging dirs; no partial downloads. */
function expectNoHalfWrittenFiles(): void {
  const entries = listTree(root);
  expect(entries.filter((entry) => entry.includes('.staging-') || entry.includes('.trash-'))).toEqual([]);
  expect(listTree(path.join(root, '.partial')).filter((entry) => entry.endsWith('.part'))).toEqual([]);
}

function expectCachedCopyOf(dir: string, box: FixtureBox): void {
  for (const [file, bytes] of Object.entries(box.files)) expect(fs.readFileSync(path.join(dir, file)).equals(bytes)).toBe(true);
  expect(JSON.parse(fs.readFileSync(path.join(dir, 'box.json'), 'utf8'))).toEqual(box.manifest);
}

beforeEach(async () => {
  server = new FaultServer();
  baseUrl = await server.start();
  root = tempDir();
  catalog = new Map();
  for (const name of ['testbox', 'otherbox']) {
    mergeEntry(catalog, { name, arch: { x86_64: { manifest: `${baseUrl}/${name}/x86_64/box.json` } } }, 'test');
  }
});

afterEach(async () => {
  await server.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('ensureBox over HTTP', () => {
  it('downloads, verifies and publishes a box in one request per file', async () => {
    const box = makeFixtureBox();
    publish(box);
    const result = await fetchBox();
    expect(result.status).toBe('downloaded');
    expect(result.version.verified).toBe(true);
    expectCachedCopyOf(result.version.dir, box);
    expect(fs.readlinkSync(path.join(root, 'testbox/x86_64/current'))).toBe(`versions/${result.version.id}`);
    expect(server.requestsFor(DISK)).toHaveLength(1);
    expectNoHalfWrittenFiles();
  });

  it('resumes a connection cut at a random byte with Range and If-Range', async () => {
    const box = makeFixtureBox();
    publish(box);
    const size = box.files['root.qcow2']!.length;
    const cutAt = 1 + Math.floor(Math.random() * (size - 2));
    server.fault(DISK, { cutAt, times: 1 });
    const result = await fetchBox();
    expectCachedCopyOf(result.version.dir, box);
    const [first, second] = server.requestsFor(DISK);
    expect(first?.status).toBe(200);
    expect(second?.status).toBe(206);
    expect(second?.range).toMatch(/^bytes=\d+-$/);
    expect(Number(second?.range?.slice(6, -1))).toBeGreaterThan(0);
    expect(second?.ifRange).toMatch(/^"[0-9a-f]{16}"$/);
    expectNoHalfWrittenFiles();
  });

  it('keeps resuming a connection that drops again and again', async () => {
    const box = makeFixtureBox({ diskBytes: 4 * 1024 * 1024 });
    publish(box);
    server.fault(DISK, { cutEvery: 600 * 1024, times: 6 });
    const result = await fetchBox();
    expectCachedCopyOf(result.version.dir, box);
    const requests = server.requestsFor(DISK);
    // Six cut responses and the last one: more failures than `attempts`, but each made progress.
    expect(requests).toHaveLength(7);
    expect(requests.slice(1).every((request) => request.status === 206)).toBe(true);
  });

  it('deletes a download whose checksum does not match and publishes nothing', async () => {
    const box = makeFixtureBox();
    publish(box);
    server.fault(DISK, { corrupt: true, times: 99 });
    const error = await fetchBox().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ChecksumMismatchError);
    expect((error as Error).message).toContain(`expected sha256 ${box.manifest.files[2]!.sha256}`);
    expect(fs.existsSync(path.join(root, 'testbox/x86_64/current'))).toBe(false);
    expect(listTree(path.join(root, 'testbox/x86_64/versions'))).toEqual([]);
    expectNoHalfWrittenFiles();
  });

  it('retries 500s with backoff and then succeeds', async () => {
    const box = makeFixtureBox();
    publish(box);
    server.fault(DISK, { error500: true, times: 2 });
    const retries: string[] = [];
    const result = await fetchBox({ onEvent: (event) => event.type === 'file-retry' && retries.push(event.reason) });
    expectCachedCopyOf(result.version.dir, box);
    expect(server.requestsFor(DISK).map((request) => request.status)).toEqual([500, 500, 200]);
    expect(retries).toEqual(['HTTP 500', 'HTTP 500']);
  });

  it('gives up on a server that keeps failing, with a clear error and nothing half-written', async () => {
    const box = makeFixtureBox();
    publish(box);
    server.fault(DISK, { error500: true, times: 99 });
    const error = await fetchBox().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DownloadError);
    expect((error as Error).message).toMatch(/cannot download .*root\.qcow2: HTTP 500 \(after 6 attempts\)/);
    expect(fs.existsSync(path.join(root, 'testbox/x86_64/current'))).toBe(false);
    expectNoHalfWrittenFiles();
  });

  it('starts over cleanly when the server answers a Range request with 200', async () => {
    const box = makeFixtureBox();
    publish(box);
    server.fault(DISK, { cutAt: 300 * 1024, ignoreRange: true, times: 1 });
    const result = await fetchBox();
    expectCachedCopyOf(result.version.dir, box);
    const [, second] = server.requestsFor(DISK);
    expect(second?.range).toBeDefined();
    expect(second?.status).toBe(200);
  });

  it('does not resume without a validator: it downloads the whole file again', async () => {
    const box = makeFixtureBox();
    publish(box);
    server.fault(DISK, { cutAt: 300 * 1024, noValidator: true, times: 1 });
    const result = await fetchBox();
    expectCachedCopyOf(result.version.dir, box);
    const [, second] = server.requestsFor(DISK);
    expect(second?.range).toBeUndefined();
  });

  it('drops a trickling connection and resumes at full speed', async () => {
    const box = makeFixtureBox();
    publish(box);
    server.fault(DISK, { trickleBytesPer100ms: 4096, times: 1 });
    const reasons: string[] = [];
    const result = await fetchBox({ onEvent: (event) => event.type === 'file-retry' && reasons.push(event.reason) });
    expectCachedCopyOf(result.version.dir, box);
    expect(reasons[0]).toMatch(/less than 262144 B\/s/);
    expect(server.requestsFor(DISK)[1]?.status).toBe(206);
  });

  it('resumes in the next run where an interrupted run stopped', async () => {
    const box = makeFixtureBox();
    publish(box);
    server.fault(DISK, { trickleBytesPer100ms: 64 * 1024, times: 1 });
    const controller = new AbortController();
    const interrupted = fetchBox({
      policy: { ...FAST, minBytesPerSecond: 1 },
      signal: controller.signal,
      onEvent: (event) => event.type === 'file-progress' && event.received > 200 * 1024 && controller.abort(new Error('Ctrl-C')),
    });
    await expect(interrupted).rejects.toThrow('Ctrl-C');
    expect(fs.existsSync(path.join(root, 'testbox/x86_64/current'))).toBe(false);
    expect(fs.readdirSync(path.join(root, 'testbox/x86_64/versions'))).toEqual([]);
    expect(fs.readdirSync(path.join(root, '.locks'))).toEqual([]);

    const result = await fetchBox();
    expectCachedCopyOf(result.version.dir, box);
    const resumed = server.requestsFor(DISK)[1];
    expect(resumed?.status).toBe(206);
    expect(Number(resumed?.range?.slice(6, -1))).toBeGreaterThan(200 * 1024);
  });

  it('names the bad field of a broken manifest', async () => {
    const box = makeFixtureBox();
    publish(box);
    const broken = { ...box.manifest, files: [{ ...box.manifest.files[0], sha256: 'abc' }] };
    server.serve('/testbox/x86_64/box.json', JSON.stringify(broken));
    await expect(fetchBox()).rejects.toThrow(/bad box manifest .*: files\[0\]\.sha256: must be 64 lower-case hex digits/);
  });

  it('says the server is unreachable when nothing listens', async () => {
    await server.stop();
    const error = await fetchBox().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(EnvironmentError);
    expect((error as Error).message).toMatch(/cannot reach http:\/\/127\.0\.0\.1:\d+\/testbox\/x86_64\/box\.json: ECONNREFUSED/);
    server = new FaultServer();
    await server.start();
  });
});

describe('update check', () => {
  it('reads only the manifest when nothing changed', async () => {
    publish(makeFixtureBox());
    const first = await fetchBox();
    const requestsBefore = server.requests.length;
    const second = await fetchBox();
    expect(second.status).toBe('cached');
    expect(second.version.id).toBe(first.version.id);
    expect(server.requests.slice(requestsBefore).map((request) => request.path)).toEqual(['/testbox/x86_64/box.json']);
  });

  it('fetches a changed box, reuses unchanged files and removes the old version', async () => {
    const v1 = makeFixtureBox({ version: '1.0.0' });
    publish(v1);
    const first = await fetchBox();
    const v2 = makeFixtureBox({ version: '1.1.0', kernel: v1.files.vmlinux });
    publish(v2);
    const second = await fetchBox();
    expect(second.status).toBe('updated');
    expectCachedCopyOf(second.version.dir, v2);
    expect(server.requestsFor('/testbox/x86_64/vmlinux')).toHaveLength(1);
    expect(fs.existsSync(first.version.dir)).toBe(false);
  });

  it('never removes a version a running VM uses; prune does once it is released', async () => {
    publish(makeFixtureBox({ version: '1.0.0' }));
    const first = await fetchBox({ use: true });
    publish(makeFixtureBox({ version: '2.0.0' }));
    const events: string[] = [];
    await fetchBox({ onEvent: (event) => event.type === 'status' && events.push(event.message) });
    expect(fs.existsSync(path.join(first.version.dir, 'root.qcow2'))).toBe(true);
    expect(events.some((message) => message.includes('in use by a running VM'))).toBe(true);

    expect((await pruneCache(root)).removed).toEqual([]);
    await first.inUse!.release();
    const report = await pruneCache(root);
    expect(report.removed).toEqual([path.join('testbox/x86_64/versions', first.version.id)]);
    expect(report.freed).toBeGreaterThan(1024 * 1024);
  });

  it('works with no network at all for a cached box with updateCheck off', async () => {
    publish(makeFixtureBox());
    const first = await fetchBox();
    await server.stop();
    const offline = await fetchBox({ updateCheck: false });
    expect(offline).toMatchObject({ status: 'cached', version: { id: first.version.id, verified: true } });
    server = new FaultServer();
    await server.start();
  });

  it('falls back to the cached box when the update check cannot reach the server', async () => {
    publish(makeFixtureBox());
    const first = await fetchBox();
    await server.stop();
    const messages: string[] = [];
    const result = await fetchBox({ onEvent: (event) => event.type === 'status' && messages.push(event.message) });
    expect(result.version.id).toBe(first.version.id);
    expect(messages.join('\n')).toMatch(/update check failed .*ECONNREFUSED.*using the cached/);
    server = new FaultServer();
    await server.start();
  });

  it('refuses an uncached box with updateCheck off', async () => {
    await expect(fetchBox({ updateCheck: false })).rejects.toThrow('box "testbox" (x86_64) is not in the cache');
  });
});

describe('concurrency', () => {
  it('downloads different boxes in parallel', async () => {
    const a = makeFixtureBox({ name: 'testbox' });
    const b = makeFixtureBox({ name: 'otherbox' });
    publish(a, 'testbox');
    publish(b, 'otherbox');
    for (const name of ['testbox', 'otherbox']) server.fault(`/${name}/x86_64/root.qcow2`, { trickleBytesPer100ms: 256 * 1024 });
    const slow = { ...FAST, minBytesPerSecond: 1 };
    await Promise.all([fetchBox({ policy: slow }), fetchBox({ name: 'otherbox', policy: slow })]);
    expect(server.inFlight.max).toBe(2);
  });
});

describe('file:// manifests', () => {
  it('copies and verifies a box published as plain files', async () => {
    const box = makeFixtureBox();
    const dir = tempDir();
    const manifest = writeFixtureBox(dir, box);
    const result = await fetchBox({ manifestUrl: `file://${manifest}` });
    expectCachedCopyOf(result.version.dir, box);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
