import { formatBytes, formatDuration } from '../common/units.js';

/**
 * Turns (bytes so far, time) samples into a rate and an ETA. The rate is measured over a
 * sliding window so a stall shows at once instead of being averaged away.
 */
export class TransferMeter {
  private readonly samples: { at: number; bytes: number }[] = [];

  constructor(
    private readonly total: number,
    private readonly windowMs = 3000,
  ) {}

  add(bytes: number, at: number = Date.now()): void {
    this.samples.push({ at, bytes });
    while (this.samples.length > 2 && at - (this.samples[1]?.at ?? at) > this.windowMs) this.samples.shift();
  }

  /** Bytes per second over the window; 0 until two samples exist. */
  rate(): number {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last || last.at === first.at) return 0;
    return ((last.bytes - first.bytes) * 1000) / (last.at - first.at);
  }

  /** "123 MiB / 512 MiB, 85.2 MiB/s, ETA 4.6s"; rate and ETA once they are known. */
  describe(): string {
    const bytes = this.samples.at(-1)?.bytes ?? 0;
    const rate = this.rate();
    const done = `${formatBytes(bytes)} / ${formatBytes(this.total)}`;
    if (rate === 0) return done;
    return `${done}, ${formatBytes(rate)}/s, ETA ${formatDuration((this.total - bytes) / rate)}`;
  }
}
