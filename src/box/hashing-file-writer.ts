import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs/promises';
import { Writable } from 'node:stream';

/**
 * A Writable that appends to an open file and feeds the sha256 with exactly the bytes
 * that reached the file, in order. So after any failure, `written` and the running hash
 * describe the file on disk, and a resumed download can go on hashing without reading
 * the file again.
 */
export class HashingFileWriter {
  hash: Hash;
  written: number;

  private constructor(
    private readonly handle: fs.FileHandle,
    hash: Hash,
    written: number,
  ) {
    this.hash = hash;
    this.written = written;
  }

  /**
   * Opens `file` for appending. Existing bytes (a partial download from an earlier run)
   * are hashed once so the download can resume after them.
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

  /** Discards everything written so far (the server restarted the transfer). */
  async restart(): Promise<void> {
    await this.handle.truncate(0);
    this.hash = createHash('sha256');
    this.written = 0;
  }

  /** A fresh Writable for one transfer attempt; `onChunk` sees each chunk once it is on disk. */
  sink(onChunk: (bytes: number) => void): Writable {
    return new Writable({
      highWaterMark: 4 << 20,
      writev: (chunks, callback) => {
        const buffers = chunks.map(({ chunk }) => chunk as Buffer);
        this.writeAll(buffers).then(() => {
          let bytes = 0;
          for (const buffer of buffers) {
            this.hash.update(buffer);
            bytes += buffer.length;
          }
          this.written += bytes;
          onChunk(bytes);
          callback();
        }, callback);
      },
    });
  }

  private async writeAll(buffers: Buffer[]): Promise<void> {
    const total = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
    // Positional writes: after restart() the bytes go to offset 0 again, whatever the file offset.
    let { bytesWritten } = await this.handle.writev(buffers, this.written);
    // A short write happens when the disk fills up; writing the rest surfaces ENOSPC.
    if (bytesWritten < total) {
      const rest = Buffer.concat(buffers).subarray(bytesWritten);
      while (bytesWritten < total) {
        const result = await this.handle.write(rest, bytesWritten - (total - rest.length), undefined, this.written + bytesWritten);
        if (result.bytesWritten === 0) throw Object.assign(new Error('short write'), { code: 'ENOSPC' });
        bytesWritten += result.bytesWritten;
      }
    }
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
