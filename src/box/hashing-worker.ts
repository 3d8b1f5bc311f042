import { fileURLToPath } from 'node:url';

/** The worker script: plain CommonJS beside this file, in src/ and (copied by tsc) in dist/. */
export const WORKER_FILE = fileURLToPath(new URL('./hashing-worker.cjs', import.meta.url));

/** What HashingFileWriter asks of its worker (hashing-worker.cjs). */
export type WorkerRequest =
  | { type: 'write'; buffers: ArrayBuffer[]; position: number }
  | { type: 'restart' }
  | { type: 'digest' }
  | { type: 'close' };

/** What the worker answers; `written` acknowledges bytes on disk and in the hash. */
export type WorkerReply =
  | { type: 'ready'; written: number }
  | { type: 'written'; bytes: number }
  | { type: 'restarted' }
  | { type: 'digest'; hex: string }
  | { type: 'error'; message: string; code: string | undefined };
