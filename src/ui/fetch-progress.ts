import type { FetchEvent, FetchEventHandler } from '../box/fetch-events.js';
import { formatBytes } from '../common/units.js';
import { TransferMeter } from './transfer-meter.js';

/** How often a progress line is redrawn: often on a terminal, rarely in a log. */
const INTERVAL_MS = { interactive: 200, plain: 5000 };

/**
 * Renders fetch events as the output lines of one listr2 task: one line per file with
 * bytes, rate and ETA while it downloads, a summary when it is done.
 */
export function fetchProgressRenderer(setOutput: (line: string) => void, interactive: boolean): FetchEventHandler {
  const meters = new Map<string, TransferMeter>();
  let lastDrawn = 0;
  const interval = interactive ? INTERVAL_MS.interactive : INTERVAL_MS.plain;
  return (event: FetchEvent) => {
    switch (event.type) {
      case 'status':
        setOutput(event.message);
        return;
      case 'file-start':
        meters.set(event.path, new TransferMeter(event.size));
        setOutput(`${event.path}: ${formatBytes(event.size)}`);
        return;
      case 'file-progress': {
        const meter = meters.get(event.path);
        meter?.add(event.received);
        const now = Date.now();
        if (meter && now - lastDrawn >= interval) {
          lastDrawn = now;
          setOutput(`${event.path}: ${meter.describe()}`);
        }
        return;
      }
      case 'file-retry':
        setOutput(`${event.path}: ${event.reason}; retrying in ${(event.delayMs / 1000).toFixed(1)}s`);
        return;
      case 'file-done':
        meters.delete(event.path);
        setOutput(`${event.path}: ${formatBytes(event.size)} ${event.how}`);
        return;
    }
  };
}
