import { describe, expect, it } from 'vitest';
import { parseArch } from '../../src/common/arch.js';
import { formatBytes, formatDuration, secondsSince } from '../../src/common/units.js';
import { TransferMeter } from '../../src/ui/transfer-meter.js';

describe('formatting', () => {
  it('formats bytes in binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(512 * 1024 * 1024)).toBe('512 MiB');
    expect(formatBytes(5 * 1024 ** 3)).toBe('5.0 GiB');
  });

  it('formats durations', () => {
    expect(formatDuration(0.34)).toBe('0.3s');
    expect(formatDuration(42)).toBe('42s');
    expect(formatDuration(65)).toBe('1m05s');
    expect(formatDuration(Infinity)).toBe('?');
  });

  it('gives the seconds since a start to a tenth', () => {
    expect(secondsSince(1_000, 43_460)).toBe(42.5);
    expect(secondsSince(1_000, 1_040)).toBe(0);
  });

  it('accepts the usual spellings of an architecture', () => {
    expect(parseArch('amd64')).toBe('x86_64');
    expect(parseArch('arm64')).toBe('aarch64');
    expect(() => parseArch('ppc64le')).toThrow('unknown architecture "ppc64le"');
  });
});

describe('TransferMeter', () => {
  it('measures the rate over its window and estimates the time left', () => {
    const meter = new TransferMeter(100 * 1024 * 1024, 3000);
    meter.add(0, 0);
    expect(meter.describe()).toBe('0 B / 100 MiB');
    meter.add(10 * 1024 * 1024, 1000);
    expect(meter.rate()).toBe(10 * 1024 * 1024);
    expect(meter.describe()).toBe('10.0 MiB / 100 MiB, 10.0 MiB/s, ETA 9.0s');
  });

  it('shows a stall at once instead of averaging it away', () => {
    const meter = new TransferMeter(100, 1000);
    meter.add(0, 0);
    meter.add(50, 500);
    meter.add(50, 5000);
    meter.add(50, 6000);
    expect(meter.rate()).toBe(0);
  });
});
