import fs from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import got, { HTTPError, RequestError } from 'got';
import { EnvironmentError, isErrno } from '../common/errors.js';
import { HashingFileWriter } from './hashing-file-writer.js';

export class DownloadError extends EnvironmentError {}

export class ChecksumMismatchError extends DownloadError {}

export interface DownloadPolicy {
  /** Attempts without progress before giving up; an attempt that moved bytes resets the count. */
  attempts: number;
  /** First backoff delay in ms; doubles per failed attempt up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A transfer slower than minBytesPerSecond over speedWindowMs is dropped and resumed. */
  minBytesPerSecond: number;
  speedWindowMs: number;
  /** Time to connect and get response headers, in ms. */
  responseTimeoutMs: number;
}

export const DEFAULT_POLICY: DownloadPolicy = {
  attempts: 6,
  baseDelayMs: 500,
  maxDelayMs: 15_000,
  minBytesPerSecond: 1024,
  speedWindowMs: 30_000,
  responseTimeoutMs: 30_000,
};

export interface DownloadRequest {
  url: string;
  sha256: string;
  /** Expected size in bytes. */
  size: number;
  /** Where the bytes accumulate; kept across runs so a later run resumes. */
  partialFile: string;
  /** Beside it: the URL and the server's validator, so a resume is only made against the same file. */
  metaFile: string;
  onProgress?: (received: number) => void;
  /** Called when a transient failure is retried. */
  onRetry?: (reason: string, delayMs: number) => void;
  policy?: Partial<DownloadPolicy>;
  signal?: AbortSignal;
}

export interface DownloadResult {
  /** Bytes reused from an earlier attempt or run. */
  resumedBytes: number;
  /** Requests made (1 when nothing went wrong). */
  requests: number;
}

interface PartialMeta {
  url: string;
  /** Strong ETag or Last-Modified of the response the bytes came from. */
  validator?: string;
}

/**
 * Downloads `url` into `partialFile`, hashing while the bytes stream in. Returns only when
 * the file has exactly `size` bytes with the expected sha256; on a mismatch the partial file
 * is deleted and ChecksumMismatchError thrown. Drops resume with Range + If-Range.
 */
export async function downloadVerified(request: DownloadRequest): Promise<DownloadResult> {
  const url = new URL(request.url);
  if (url.protocol === 'file:') return copyVerified(request, fileURLToPath(url));
  const policy = { ...DEFAULT_POLICY, ...request.policy };

  const meta = await readMeta(request.metaFile);
  const resumable = meta?.url === request.url && meta.validator !== undefined;
  const writer = await HashingFileWriter.open(request.partialFile, { keepExisting: resumable });
  const state = { validator: resumable ? meta.validator : undefined, resumedBytes: writer.written, requests: 0 };
  let digest: string;
  try {
    if (writer.written > request.size) await writer.restart();
    let failures = 0;
    while (writer.written < request.size) {
      request.signal?.throwIfAborted();
      const before = writer.written;
      try {
        state.requests += 1;
        await transferOnce(request, policy, writer, state);
        await writer.settle();
        if (writer.written < request.size) throw new IncompleteError();
      } catch (error) {
        // A write still in flight must land before `written` says where to resume.
        await writer.settle();
        if (request.signal?.aborted) throw request.signal.reason;
        const transient = isTransient(error, writer.written > 0);
        failures = writer.written > before ? 1 : failures + 1;
        if (!transient || failures >= policy.attempts) throw asDownloadError(error, request.url, failures);
        const delay = Math.min(policy.baseDelayMs * 2 ** (failures - 1), policy.maxDelayMs);
        request.onRetry?.(describe(error), delay);
        await sleep(delay, undefined, { signal: request.signal });
      }
    }
    digest = await writer.digest();
  } catch (error) {
    await writer.close();
    // Keep bytes for the next run to resume; an empty partial is only clutter.
    if (writer.written === 0) await fs.rm(request.partialFile, { force: true });
    throw error;
  }
  await writer.close();
  await checkDigest(request, digest);
  return { resumedBytes: state.resumedBytes, requests: state.requests };
}

class IncompleteError extends Error {
  constructor() {
    super('the server closed the connection before the end of the file');
  }
}

class TooSlowError extends Error {}

async function transferOnce(
  request: DownloadRequest,
  policy: DownloadPolicy,
  writer: HashingFileWriter,
  state: { validator: string | undefined; resumedBytes: number },
): Promise<void> {
  const headers: Record<string, string> = {};
  if (writer.written > 0 && state.validator) {
    headers.range = `bytes=${writer.written}-`;
    headers['if-range'] = state.validator;
  } else if (writer.written > 0) {
    // No validator: resuming could splice two different files together.
    await writer.restart();
  }
  const stream = got.stream(request.url, {
    headers,
    decompress: false,
    retry: { limit: 0 },
    ...(request.signal ? { signal: request.signal } : {}),
    timeout: { connect: policy.responseTimeoutMs, response: policy.responseTimeoutMs },
  });
  // The body waits in `body` while the status is looked at (a 200 to a range request must
  // truncate first). A drop ends `body` instead of discarding what it holds: every byte that
  // arrived is written, then the drop is reported and the next request resumes after them.
  let dropped: unknown;
  const body = new PassThrough();
  stream.on('error', (error) => {
    dropped ??= error;
    body.end();
  });
  stream.pipe(body);
  const response = await new Promise<{ statusCode: number; headers: Record<string, string | string[] | undefined> }>(
    (resolve, reject) => {
      stream.once('response', resolve);
      stream.once('error', reject);
    },
  );
  try {
    await onResponse(request, writer, state, response.statusCode, response.headers);
  } catch (error) {
    stream.destroy();
    body.destroy();
    throw error;
  }
  const sampler = watchSpeed(policy, (error) => stream.destroy(error));
  try {
    await pipeline(
      body,
      writer.sink((bytes) => {
        sampler.add(bytes);
        request.onProgress?.(writer.written);
        if (writer.written > request.size) stream.destroy(new Error(`more bytes than the ${request.size} the manifest says`));
      }),
      { signal: request.signal },
    );
  } finally {
    sampler.stop();
  }
  if (dropped) throw dropped;
}

async function onResponse(
  request: DownloadRequest,
  writer: HashingFileWriter,
  state: { validator: string | undefined; resumedBytes: number },
  status: number,
  headers: Record<string, string | string[] | undefined>,
): Promise<void> {
  const validator = validatorOf(headers);
  if (status === 206) {
    const start = /^bytes (\d+)-/.exec(String(headers['content-range'] ?? ''))?.[1];
    if (Number(start) !== writer.written || (validator && validator !== state.validator)) {
      throw new Error(`the server answered the range request with the wrong part (${String(headers['content-range'])})`);
    }
    return;
  }
  // A 200 to a range request: the file changed or the server ignores ranges. Start over cleanly.
  if (writer.written > 0) {
    await writer.restart();
    state.resumedBytes = 0;
  }
  state.validator = validator;
  await writeMeta(request.metaFile, { url: request.url, ...(validator ? { validator } : {}) });
}

/** If-Range needs a strong ETag; a weak one falls back to Last-Modified. */
function validatorOf(headers: Record<string, string | string[] | undefined>): string | undefined {
  const etag = headers.etag;
  if (typeof etag === 'string' && !etag.startsWith('W/')) return etag;
  const lastModified = headers['last-modified'];
  return typeof lastModified === 'string' ? lastModified : undefined;
}

/** Calls `fail` when fewer than minBytesPerSecond arrived over the last window. */
function watchSpeed(policy: DownloadPolicy, fail: (error: Error) => void): { add(bytes: number): void; stop(): void } {
  let bytes = 0;
  const minimum = (policy.minBytesPerSecond * policy.speedWindowMs) / 1000;
  const timer = setInterval(() => {
    if (bytes < minimum) {
      fail(new TooSlowError(`less than ${policy.minBytesPerSecond} B/s for ${policy.speedWindowMs / 1000}s`));
    }
    bytes = 0;
  }, policy.speedWindowMs);
  return { add: (n) => (bytes += n), stop: () => clearInterval(timer) };
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ECONNABORTED',
  'EAI_AGAIN',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** Whether retrying may help. A refused connection counts only once the server has been seen. */
function isTransient(error: unknown, serverSeen: boolean): boolean {
  // got wraps the error a stream was destroyed with; judge by our own reason.
  if (error instanceof RequestError && error.cause instanceof Error && !(error.cause as NodeJS.ErrnoException).code) {
    return isTransient(error.cause, serverSeen);
  }
  if (error instanceof IncompleteError || error instanceof TooSlowError) return true;
  if (error instanceof HTTPError) {
    const status = error.response.statusCode;
    return status >= 500 || status === 408 || status === 429;
  }
  if (error instanceof RequestError) {
    if (error.name === 'TimeoutError' || error.name === 'ReadError') return true;
    if (error.code === 'ECONNREFUSED') return serverSeen;
    return TRANSIENT_CODES.has(error.code);
  }
  return false;
}

function describe(error: unknown): string {
  if (error instanceof RequestError && error.cause instanceof Error && !(error.cause as NodeJS.ErrnoException).code) {
    return error.cause.message;
  }
  if (error instanceof HTTPError) return `HTTP ${error.response.statusCode}`;
  if (error instanceof RequestError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

function asDownloadError(error: unknown, url: string, attempts: number): Error {
  if (isErrno(error, 'ENOSPC') || isErrno(error, 'EDQUOT')) return error as Error;
  const tries = attempts > 1 ? ` (after ${attempts} attempts)` : '';
  const hint =
    error instanceof RequestError && (error.code === 'ECONNREFUSED' || error.code === 'ENOTFOUND')
      ? 'is the box server up, and is the URL in the box catalog right?'
      : 'check the network and the box catalog URL, then run the command again; the download resumes';
  return new DownloadError(`cannot download ${url}: ${describe(error)}${tries}`, { hint, cause: error });
}

async function checkDigest(request: DownloadRequest, actual: string): Promise<void> {
  if (actual === request.sha256) {
    await fs.rm(request.metaFile, { force: true });
    return;
  }
  await fs.rm(request.partialFile, { force: true });
  await fs.rm(request.metaFile, { force: true });
  throw new ChecksumMismatchError(`checksum mismatch for ${request.url}: expected sha256 ${request.sha256}, got ${actual}`, {
    hint: 'the file on the server is not the one its manifest describes; the download was deleted',
  });
}

async function copyVerified(request: DownloadRequest, source: string): Promise<DownloadResult> {
  const writer = await HashingFileWriter.open(request.partialFile, { keepExisting: false });
  let digest: string;
  try {
    const input = (await fs.open(source).catch((error: unknown) => {
      throw new DownloadError(`cannot read ${request.url}: ${(error as Error).message}`, {
        hint: 'check the file:// URL in the box catalog',
        cause: error,
      });
    })) as fs.FileHandle;
    await pipeline(input.createReadStream({ highWaterMark: 1 << 20 }), writer.sink(() => request.onProgress?.(writer.written)), {
      signal: request.signal,
    });
    digest = await writer.digest();
  } finally {
    await writer.close();
  }
  if (writer.written !== request.size) {
    await fs.rm(request.partialFile, { force: true });
    throw new ChecksumMismatchError(`size mismatch for ${request.url}: expected ${request.size} bytes, got ${writer.written}`);
  }
  await checkDigest(request, digest);
  return { resumedBytes: 0, requests: 1 };
}

async function readMeta(file: string): Promise<PartialMeta | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as PartialMeta;
  } catch {
    return undefined;
  }
}

async function writeMeta(file: string, meta: PartialMeta): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await fs.writeFile(temporary, JSON.stringify(meta));
  await fs.rename(temporary, file);
}
