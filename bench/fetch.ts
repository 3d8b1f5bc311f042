/**
 * bench/fetch: `kiwi box fetch` of a box with a 512 MiB disk file from a local HTTP server,
 * against `curl -o` of the same file, alternately, several runs. kiwi also computes the
 * sha256 while the bytes stream in and publishes the box by rename; curl only writes.
 * A third column is the floor under any Node client: a bare `node` that receives the same
 * two files with node:http and drops the bytes (no hash, no write, no got).
 *
 *   npx tsx bench/fetch.ts [--runs 7] [--size-mib 512]
 *
 * Prints one Markdown table row per run and the medians; RESULTS.md holds the latest.
 */
import { createHash, randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { median } from './median.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' }, 'size-mib': { type: 'string', default: '512' } } });
const runs = Number(values.runs);
const size = Number(values['size-mib']) * 1024 * 1024;
const kiwi = path.resolve('bin/kiwi.js');

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kiwi-bench-fetch-'));
const served = path.join(work, 'served');
fs.mkdirSync(served);

function writeRandomFile(file: string, bytes: number): string {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(8 * 1024 * 1024);
  for (let written = 0; written < bytes; written += chunk.length) {
    const part = chunk.subarray(0, Math.min(chunk.length, bytes - written));
    randomFillSync(part);
    hash.update(part);
    fs.writeSync(fd, part);
  }
  fs.closeSync(fd);
  return hash.digest('hex');
}

const files = [
  { path: 'vmlinux', role: 'kernel', size: 1024 * 1024 },
  { path: 'root.qcow2', role: 'disk', size },
].map((file) => ({ ...file, sha256: writeRandomFile(path.join(served, file.path), file.size) }));
const manifest = { name: 'benchbox', version: '1', arch: 'x86_64', files, cmdline: '', memoryMiB: 1024, cpus: 1 };
fs.writeFileSync(path.join(served, 'box.json'), JSON.stringify(manifest));

// A plain static server: both clients read the same bytes from the same page cache.
const server = http.createServer((req, res) => {
  const file = path.join(served, path.basename(req.url ?? ''));
  if (!fs.existsSync(file)) return res.writeHead(404).end();
  res.writeHead(200, { 'content-length': fs.statSync(file).size, etag: '"bench"' });
  fs.createReadStream(file, { highWaterMark: 1 << 20 }).pipe(res);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
fs.writeFileSync(
  path.join(work, 'boxes.yaml'),
  `boxes:\n  - name: benchbox\n    arch:\n      x86_64: { manifest: "${base}/box.json" }\n`,
);

async function timeIt(run: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

const cache = path.join(work, 'cache');
const fetchWithKiwi = (): Promise<unknown> =>
  execa('node', [kiwi, 'box', 'fetch', 'benchbox'], {
    env: { KIWI_BOXED_CACHE_DIR: cache, KIWI_BOX_CONFIG: path.join(work, 'boxes.yaml'), CI: '1' },
  });
const fetchWithCurl = (): Promise<unknown> =>
  execa('curl', ['-sSf', '-o', path.join(work, 'curl.out'), `${base}/root.qcow2`, '-o', path.join(work, 'curl-kernel.out'), `${base}/vmlinux`]);

// The same two GETs in a bare node process, body discarded.
const NODE_RECEIVE = `
const http = require('node:http');
const get = (url) => new Promise((resolve, reject) => http.get(url, (res) => res.on('data', () => {}).on('end', resolve).on('error', reject)).on('error', reject));
(async () => { for (const url of process.argv.slice(1)) await get(url); })();`;
const receiveWithNode = (): Promise<unknown> => execa('node', ['-e', NODE_RECEIVE, `${base}/root.qcow2`, `${base}/vmlinux`]);

const kiwiTimes: number[] = [];
const curlTimes: number[] = [];
const nodeTimes: number[] = [];
console.log(`| run | kiwi box fetch (s) | curl (s) | bare node receive (s) |\n|---|---|---|---|`);
for (let run = 1; run <= runs; run += 1) {
  fs.rmSync(cache, { recursive: true, force: true });
  fs.rmSync(path.join(work, 'curl.out'), { force: true });
  // Alternate who goes first so neither always meets a warmer machine.
  const order = run % 2 ? [['kiwi', fetchWithKiwi], ['curl', fetchWithCurl]] as const : [['curl', fetchWithCurl], ['kiwi', fetchWithKiwi]] as const;
  const times: Record<string, number> = {};
  for (const [name, fetch] of order) times[name] = await timeIt(fetch);
  times.node = await timeIt(receiveWithNode);
  kiwiTimes.push(times.kiwi!);
  curlTimes.push(times.curl!);
  nodeTimes.push(times.node);
  console.log(`| ${run} | ${times.kiwi!.toFixed(2)} | ${times.curl!.toFixed(2)} | ${times.node.toFixed(2)} |`);
}
const mib = (size + 1024 * 1024) / 1024 / 1024;
const kiwiMedian = median(kiwiTimes);
const curlMedian = median(curlTimes);
console.log(`\nmedian: kiwi ${kiwiMedian.toFixed(2)} s (${(mib / kiwiMedian).toFixed(0)} MiB/s), curl ${curlMedian.toFixed(2)} s (${(mib / curlMedian).toFixed(0)} MiB/s)`);
const nodeMedian = median(nodeTimes);
console.log(`bare node receive ${nodeMedian.toFixed(2)} s (${(mib / nodeMedian).toFixed(0)} MiB/s)`);
console.log(`kiwi speed / curl speed (median times): ${(curlMedian / kiwiMedian).toFixed(2)}`);
console.log(`bare node receive speed / curl speed: ${(curlMedian / nodeMedian).toFixed(2)}`);
server.close();
fs.rmSync(work, { recursive: true, force: true });
