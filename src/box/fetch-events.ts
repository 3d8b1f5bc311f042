/** What `ensureBox` reports while it works; the UI renders these (ui/fetch-progress.ts). */
export type FetchEvent =
  | { type: 'status'; message: string }
  | { type: 'file-start'; path: string; size: number }
  | { type: 'file-progress'; path: string; received: number; size: number }
  | { type: 'file-retry'; path: string; reason: string; delayMs: number }
  | { type: 'file-done'; path: string; size: number; how: 'downloaded' | 'resumed' | 'reused' };

export type FetchEventHandler = (event: FetchEvent) => void;
