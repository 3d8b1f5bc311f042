import net from 'node:net';
import { forwardLines } from '../common/lines.js';

/**
 * A QMP client for one question to a running QEMU: where its vCPUs are. A guest that stops
 * answering prints nothing on a quiet console; its instruction pointers say whether it hangs
 * in the kernel, idles (HLT) or runs on.
 */

/** `info registers -a` through QMP's human-monitor-command: every vCPU's registers as QEMU prints them. */
export function vcpuRegisters(socketPath: string, timeoutMs = 3000): Promise<string> {
  return qmpSession(socketPath, timeoutMs, async (execute) => {
    await execute('qmp_capabilities');
    const text = await execute('human-monitor-command', { 'command-line': 'info registers -a' });
    if (typeof text !== 'string') throw new Error('QMP: info registers returned no text');
    return text;
  });
}

/** One line per vCPU: its number, instruction pointer and state (x86: RIP or EIP, CPL, HLT; arm: PC, PSTATE). */
export function summarizeRegisters(text: string): string[] {
  const summaries: string[] = [];
  for (const block of text.replaceAll('\r', '').split(/^(?=CPU#\d+)/m)) {
    const cpu = /^CPU#(\d+)/.exec(block)?.[1];
    if (cpu === undefined) continue;
    const fields = ['RIP', 'EIP', 'CPL', 'HLT', 'PC', 'PSTATE'].flatMap((name) => {
      const value = new RegExp(`(?:^|\\s)${name}=(\\S+)`, 'm').exec(block)?.[1];
      return value === undefined ? [] : [`${name}=${value}`];
    });
    summaries.push(`CPU#${cpu} ${fields.join(' ')}`.trimEnd());
  }
  return summaries;
}

type Execute = (command: string, args?: Record<string, unknown>) => Promise<unknown>;

/** Connects, reads the greeting, runs `talk` (one command at a time) and closes; fails after `timeoutMs` in all. */
async function qmpSession<T>(socketPath: string, timeoutMs: number, talk: (execute: Execute) => Promise<T>): Promise<T> {
  const socket = net.createConnection(socketPath);
  const replies: unknown[] = [];
  const waiting: Array<{ resolve: (reply: unknown) => void; reject: (error: Error) => void }> = [];
  let failure: Error | undefined;
  const fail = (error: Error): void => {
    failure ??= error;
    for (const waiter of waiting.splice(0)) waiter.reject(failure);
  };
  forwardLines(
    socket,
    (line) => {
      if (!line.trim()) return;
      let message: Record<string, unknown>;
      try {
        message = JSON.parse(line) as Record<string, unknown>;
      } catch {
        fail(new Error(`QMP: not JSON: ${line.slice(0, 80)}`));
        return;
      }
      // Asynchronous events (a vCPU reset, a device going away) are not replies.
      if ('event' in message) return;
      const waiter = waiting.shift();
      if (waiter) waiter.resolve(message);
      else replies.push(message);
    },
    'crlf',
  );
  socket.on('error', fail);
  socket.on('close', () => fail(new Error('QMP: QEMU closed the connection')));
  const nextMessage = (): Promise<unknown> =>
    replies.length ? Promise.resolve(replies.shift()) : failure ? Promise.reject(failure) : new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  const execute: Execute = async (command, args) => {
    socket.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}) })}\n`);
    const reply = (await nextMessage()) as { return?: unknown; error?: { desc?: string } };
    if (reply.error) throw new Error(`QMP ${command}: ${reply.error.desc ?? 'failed'}`);
    return reply.return;
  };
  const timer = setTimeout(() => fail(new Error(`QMP: no answer within ${timeoutMs} ms`)), timeoutMs);
  try {
    const greeting = (await nextMessage()) as { QMP?: unknown };
    if (!greeting.QMP) throw new Error('QMP: no greeting');
    return await talk(execute);
  } finally {
    clearTimeout(timer);
    socket.destroy();
  }
}
