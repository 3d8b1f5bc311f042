import { UsageError } from './errors.js';

const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** 1536 → "1.5 KiB"; for sizes on disk and download progress. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < BINARY_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${BINARY_UNITS[unit]}`;
}

/** Seconds as "1m05s" / "42s" / "0.3s", for elapsed times and ETAs. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 10) return `${seconds.toFixed(1)}s`;
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole}s`;
  const minutes = Math.floor(whole / 60);
  return `${minutes}m${String(whole % 60).padStart(2, '0')}s`;
}

/** Seconds since `startedMs` (a Date.now()), to a tenth: a build's time as results report it. */
export function secondsSince(startedMs: number, nowMs = Date.now()): number {
  return Math.round((nowMs - startedMs) / 100) / 10;
}

/**
 * Sizes as docker/podman write them: K, M, G, T are powers of 1024 (an optional "i", "B" or
 * "iB" is accepted), a bare number is bytes.
 */
const SIZE = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i;
const FACTORS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** "512M" → 536870912 bytes; "0" → 0. */
export function parseSize(text: string, option: string): number {
  const match = SIZE.exec(text.trim());
  if (!match) {
    throw new UsageError(`${option} ${text}: not a size`, { hint: `write a size like 512M, 2G or 1048576 (bytes)` });
  }
  const bytes = Math.floor(Number(match[1]) * FACTORS[match[2]!.toLowerCase()]!);
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`${option} ${text}: too large`);
  return bytes;
}
