import fs from 'node:fs/promises';

/**
 * Follows a growing file (the VM's serial console log) and hands each new piece of text
 * to `onText`, polling, until stopped. For --box-console: the boot as it happens.
 */
export function followFile(file: string, onText: (text: string) => void, intervalMs = 100): { stop(): Promise<void> } {
  let offset = 0;
  let reading: Promise<void> = Promise.resolve();
  const readNew = async (): Promise<void> => {
    const handle = await fs.open(file, 'r').catch(() => undefined);
    if (!handle) return;
    try {
      const { size } = await handle.stat();
      if (size <= offset) return;
      const buffer = Buffer.alloc(size - offset);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      offset += bytesRead;
      onText(buffer.subarray(0, bytesRead).toString('utf8'));
    } finally {
      await handle.close();
    }
  };
  const timer = setInterval(() => {
    reading = reading.then(readNew);
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      // One last read so the final lines are shown too.
      await (reading = reading.then(readNew));
    },
  };
}
