import fs from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import got, { HTTPError, RequestError } from 'got';
import { DownloadError } from './download.js';

export interface ReadUrlOptions {
  /** Per-request timeout in ms. */
  timeoutMs?: number;
  /** Retries of transient failures (got's own backoff). */
  retries?: number;
  signal?: AbortSignal;
}

/** Reads a small text document (a manifest) from an http, https or file URL. */
export async function readUrl(url: string, options: ReadUrlOptions = {}): Promise<string> {
  const parsed = new URL(url);
  if (parsed.protocol === 'file:') {
    try {
      return await fs.readFile(fileURLToPath(parsed), 'utf8');
    } catch (error) {
      throw new DownloadError(`cannot read ${url}: ${(error as Error).message}`, {
        hint: 'check the file:// URL in the box catalog',
        cause: error,
      });
    }
  }
  try {
    return await got(url, {
      timeout: { request: options.timeoutMs ?? 30_000 },
      // A refused connection or an unknown host is not retried: it fails fast with a clear message.
      retry: { limit: options.retries ?? 3, methods: ['GET'], errorCodes: ['ETIMEDOUT', 'ECONNRESET', 'EPIPE', 'EAI_AGAIN'] },
      ...(options.signal ? { signal: options.signal } : {}),
    }).text();
  } catch (error) {
    if (error instanceof HTTPError) {
      throw new DownloadError(`cannot read ${url}: HTTP ${error.response.statusCode}`, {
        hint: 'check the manifest URL in the box catalog',
        cause: error,
      });
    }
    if (error instanceof RequestError) {
      throw new DownloadError(`cannot reach ${url}: ${error.code}`, {
        hint: 'is the box server up and reachable? A cached box works offline with --no-update-check',
        cause: error,
      });
    }
    throw error;
  }
}
