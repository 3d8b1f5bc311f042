import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs/promises';
import { Writable } from 'node:stream';

/**
 * Writes a download to its file and feeds the sha256 with the same bytes, in order. The
 * hash runs on the main thread while the thread pool writes, so hashing costs no extra
 * time. Once every write has settled, `written` and the hash describe the file on disk
 * exactly, so a dropped transfer resumes without reading the file again; after a failed
 * write the writer refuses further use (the next run re-reads what is on disk).
 */
export class HashingFileWriter {
  hash: Hash;
  written: number;
  /** The write in flight, if any; `written` moves when it lands. */
  private pending: Promise<void> = Promise.resolve();
  private writeError: unknown;

  private constructor(
    private readonly handle: fs.FileHandle,
    hash: Hash,
    written: number,
  ) {
    this.hash = hash;
    this.written = written;
  }

  /**
   * Opens `file`. With keepExisting, bytes already there (a partial download from an
   * earlier run) are hashed once so the download can resume after them.
   */
  static async open(file: string, options: { keepExisting: boolean }): Promise<HashingFileWriter> {
    const handle = await fs.open(file, options.keepExisting ? 'r+' : 'w').catch(async (error: unknown) => {
      // r+ needs the file to exist; a first run has none yet.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return fs.open(file, 'w');
      throw error;
    });
    const hash = createHash('sha256');
    let written = 0;
    if (options.keepExisting) {
      for await (const chunk of handle.createReadStream({ start: 0, autoClose: false, highWaterMark: 1 << 20 })) {
        hash.update(chunk as Buffer);
        written += (chunk as Buffer).length;
      }
    }
    return new HashingFileWriter(handle, hash, written);
  }

  /** Waits for the write in flight; throws if a write failed (the hash is then unusable). */
  async settle(): Promise<void> {
    await this.pending.catch(() => undefined);
    if (this.writeError) throw this.writeError;
  }

  /** Discards everything written so far (the server restarted the transfer). */
  async restart(): Promise<void> {
    await this.settle();
    await this.handle.truncate(0);
    this.hash = createHash('sha256');
    this.written = 0;
  }

  /** A fresh Writable for one transfer attempt; `onChunk` sees each chunk once it is on disk. */
  sink(onChunk: (bytes: number) => void): Writable {
    return new Writable({
      highWaterMark: 4 << 20,
      writev: (chunks, callback) => {
        if (this.writeError) return callback(this.writeError as Error);
        const buffers = chunks.map(({ chunk }) => chunk as Buffer);
        const write = this.writeAll(buffers, this.written);
        let bytes = 0;
        for (const buffer of buffers) {
          this.hash.update(buffer);
          bytes += buffer.length;
        }
        this.pending = write.then(
          () => {
            this.written += bytes;
            onChunk(bytes);
          },
          (error: unknown) => {
            this.writeError = error;
            throw error;
          },
        );
        this.pending.then(() => callback(), callback);
      },
    });
  }

  /** Positional writes: after restart() the bytes go to offset 0 again, whatever the file offset. */
  private async writeAll(buffers: Buffer[], position: number): Promise<void> {
    const total = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
    let { bytesWritten } = await this.handle.writev(buffers, position);
    // A short write happens when the disk fills up; writing the rest surfaces ENOSPC.
    if (bytesWritten < total) {
      const rest = Buffer.concat(buffers).subarray(bytesWritten);
      while (bytesWritten < total) {
        const result = await this.handle.write(rest, bytesWritten - (total - rest.length), undefined, position + bytesWritten);
        if (result.bytesWritten === 0) throw Object.assign(new Error('short write'), { code: 'ENOSPC' });
        bytesWritten += result.bytesWritten;
      }
    }
  }

  async close(): Promise<void> {
    await this.pending.catch(() => undefined);
    await this.handle.close();
  }
}
