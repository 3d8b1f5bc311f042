import { Writable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { WORKER_FILE, type WorkerReply, type WorkerRequest } from './hashing-worker.js';

/** Bytes handed to the worker but not yet on disk; beyond this the stream waits. */
const MAX_IN_FLIGHT = 32 << 20;

/**
 * Writes a download to its file and feeds the sha256 with the same bytes, in order. Both
 * run on a worker thread, so the main thread only receives from the network: hashing is
 * free on a machine with a second core. Once settled, `written` and the hash describe the
 * file on disk exactly, so a dropped transfer resumes without reading the file again; after
 * a failed write the writer refuses further use (the next run re-reads what is on disk).
 */
export class HashingFileWriter {
  /** Bytes on disk, acknowledged by the worker. */
  written: number;
  private queued: number;
  private failure: Error | undefined;
  private onWritten: ((bytes: number) => void) | undefined;
  private readonly waiters: { until: () => boolean; resolve: () => void; reject: (error: Error) => void }[] = [];
  private readonly replies: ((reply: WorkerReply) => void)[] = [];

  private constructor(
    private readonly worker: Worker,
    written: number,
  ) {
    this.written = written;
    this.queued = written;
    worker.on('message', (reply: WorkerReply) => this.receive(reply));
    worker.on('error', (error) => this.fail(error));
  }

  /**
   * Opens `file`. With keepExisting, bytes already there (a partial download from an
   * earlier run) are hashed once so the download can resume after them.
   */
  static async open(file: string, options: { keepExisting: boolean }): Promise<HashingFileWriter> {
    const worker = new Worker(WORKER_FILE, { workerData: { file, keepExisting: options.keepExisting } });
    const first = await new Promise<WorkerReply>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    if (first.type !== 'ready') {
      await worker.terminate();
      throw replyError(first);
    }
    return new HashingFileWriter(worker, first.written);
  }

  /** Waits until every queued byte is on disk; throws if a write failed. */
  settle(): Promise<void> {
    return this.waitUntil(() => this.written === this.queued);
  }

  /** Discards everything written so far (the server restarted the transfer). */
  async restart(): Promise<void> {
    await this.settle();
    await this.request({ type: 'restart' });
    this.written = 0;
    this.queued = 0;
  }

  /** The sha256 of the bytes on disk. */
  async digest(): Promise<string> {
    await this.settle();
    const reply = await this.request({ type: 'digest' });
    return reply.type === 'digest' ? reply.hex : '';
  }

  /** A fresh Writable for one transfer attempt; `onChunk` sees each chunk once it is on disk. */
  sink(onChunk: (bytes: number) => void): Writable {
    this.onWritten = onChunk;
    return new Writable({
      highWaterMark: 4 << 20,
      writev: (chunks, callback) => {
        if (this.failure) return callback(this.failure);
        const buffers = chunks.map(({ chunk }) => ownedArrayBuffer(chunk as Buffer));
        const bytes = buffers.reduce((sum, buffer) => sum + buffer.byteLength, 0);
        this.post({ type: 'write', buffers, position: this.queued }, buffers);
        this.queued += bytes;
        this.waitUntil(() => this.queued - this.written < MAX_IN_FLIGHT).then(() => callback(), callback);
      },
    });
  }

  async close(): Promise<void> {
    await this.settle().catch(() => undefined);
    const exited = new Promise((resolve) => this.worker.once('exit', resolve));
    this.post({ type: 'close' });
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    await this.worker.terminate();
  }

  private receive(reply: WorkerReply): void {
    if (reply.type === 'written') {
      this.written += reply.bytes;
      this.onWritten?.(reply.bytes);
    } else if (reply.type === 'error') {
      this.fail(replyError(reply));
      return;
    } else {
      this.replies.shift()?.(reply);
    }
    this.wake();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.waiters.splice(0)) waiter.reject(this.failure);
    for (const pending of this.replies.splice(0)) pending({ type: 'error', message: error.message, code: undefined });
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) {
      if (!waiter.until()) continue;
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  }

  private waitUntil(until: () => boolean): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (until()) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ until, resolve, reject }));
  }

  private async request(message: WorkerRequest): Promise<WorkerReply> {
    if (this.failure) throw this.failure;
    const reply = await new Promise<WorkerReply>((resolve) => {
      this.replies.push(resolve);
      this.post(message);
    });
    if (reply.type === 'error') throw this.failure ?? replyError(reply);
    return reply;
  }

  private post(message: WorkerRequest, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(message, transfer);
  }
}

/** An ArrayBuffer holding exactly the chunk, safe to transfer: the chunk's own, or a copy of a pooled slice. */
function ownedArrayBuffer(chunk: Buffer): ArrayBuffer {
  const { buffer, byteOffset, byteLength } = chunk;
  if (byteOffset === 0 && byteLength === buffer.byteLength && buffer instanceof ArrayBuffer) return buffer;
  return buffer.slice(byteOffset, byteOffset + byteLength) as ArrayBuffer;
}

function replyError(reply: WorkerReply): Error {
  if (reply.type !== 'error') return new Error(`unexpected reply ${reply.type} from the hashing worker`);
  return Object.assign(new Error(reply.message), { code: reply.code });
}
