import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable, Writable } from 'node:stream';
import ssh2, { type Client, type ClientChannel, type SFTPWrapper } from 'ssh2';
import { EnvironmentError } from '../common/errors.js';
import { Slots } from '../common/slots.js';
import { publicKeyBlob } from './ssh-keys.js';

export interface SshTarget {
  /** Always loopback: the VM's port is forwarded on 127.0.0.1 only. */
  host: string;
  port: number;
  username: string;
  privateKey: string;
  /** The guest's host public key; a connection presenting another key is refused. */
  hostPublicKey: string;
}

export interface ConnectOptions {
  /** Give up after this many ms (the box boot timeout). */
  timeoutMs: number;
  /** Time between the starts of attempts, in ms. */
  retryMs?: number;
  signal?: AbortSignal;
  /** Checked between attempts: a VM that died is not waited for. */
  isAlive?: () => boolean;
  /** How long a connection may stay silent before the server's SSH banner, in ms. */
  bannerTimeoutMs?: number;
}

export interface ExecOptions {
  stdout?: Writable;
  stderr?: Writable;
  stdin?: Readable;
  /** Allocate a pseudo-terminal (interactive shells). */
  pty?: { rows: number; cols: number; term: string };
  env?: Record<string, string>;
}

export interface ExecResult {
  /** The command's exit code; null when it was killed by a signal. */
  exitCode: number | null;
  signal: string | null;
}

/** OpenSSH allows 10 sessions per connection; keep a margin for the SFTP channel. */
const MAX_CONCURRENT_EXECS = 8;

/** One SSH connection to a box: exec with streaming, one shared SFTP channel. */
export class SshSession {
  private sftpChannel: Promise<SFTPWrapper> | undefined;
  private readonly execSlots = new Slots(MAX_CONCURRENT_EXECS);

  private connected = true;
  private dropReason: string | undefined;

  private constructor(private readonly client: Client) {
    client.once('close', () => (this.connected = false));
    // After 'ready' a failure ends the connection (and with it every channel); its reason is kept for the error that follows.
    client.on('error', (error) => (this.dropReason ??= error.message));
  }

  /** False once the connection has ended: closed by us, or dropped with the VM. */
  isConnected(): boolean {
    return this.connected;
  }

  /** Why the connection failed after it was ready (a keepalive timeout, a reset), if it did. */
  connectionError(): string | undefined {
    return this.dropReason;
  }

  /**
   * Connects, retrying while the box boots, until `timeoutMs`; checks the host key. A new
   * attempt starts every `retryMs` while the earlier ones still wait for the banner (see
   * firstAnswer), so the box is reached within `retryMs` of its sshd listening.
   */
  static async connect(target: SshTarget, options: ConnectOptions): Promise<SshSession> {
    const deadline = Date.now() + options.timeoutMs;
    const expectedKey = publicKeyBlob(target.hostPublicKey);
    const retryMs = options.retryMs ?? 100;
    const stopped = (): boolean => options.signal?.aborted === true || (options.isAlive !== undefined && !options.isAlive());
    let lastError: Error | undefined;
    while (Date.now() < deadline && !stopped()) {
      const socket = await firstAnswer(target, {
        everyMs: retryMs,
        bannerTimeoutMs: options.bannerTimeoutMs ?? 1000,
        until: deadline,
        stopped,
        onError: (error) => (lastError = error),
      });
      if (!socket) continue;
      try {
        return new SshSession(await connectOnce(target, expectedKey, socket, Math.max(1000, Math.min(15_000, deadline - Date.now()))));
      } catch (error) {
        lastError = error as Error;
        if (lastError instanceof HostKeyMismatchError) throw lastError;
      }
      await sleep(retryMs, undefined, { signal: options.signal });
    }
    options.signal?.throwIfAborted();
    throw new EnvironmentError(`the box did not answer on SSH (127.0.0.1:${target.port}) within ${options.timeoutMs / 1000}s`, {
      hint: 'see the serial console log for how far it booted; a slow host may need a larger --box-timeout',
      cause: lastError,
    });
  }

  /** Runs a command; resolves with its exit status once its channel closes. */
  exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    return this.execSlots.run(async () => {
      const channel = await new Promise<ClientChannel>((resolve, reject) => {
        const execOptions = { ...(options.pty ? { pty: options.pty } : {}), ...(options.env ? { env: options.env } : {}) };
        this.client.exec(command, execOptions, (error, stream) => (error ? reject(error) : resolve(stream)));
      });
      return new Promise<ExecResult>((resolve, reject) => {
        let result: ExecResult = { exitCode: null, signal: null };
        channel.on('exit', (code: number | null, signal?: string) => {
          result = { exitCode: code ?? null, signal: signal ?? null };
        });
        channel.on('close', () => resolve(result));
        channel.on('error', reject);
        if (options.stdout) channel.pipe(options.stdout, { end: false });
        else channel.resume();
        if (options.stderr) channel.stderr.pipe(options.stderr, { end: false });
        else channel.stderr.resume();
        if (options.stdin) options.stdin.pipe(channel);
        else channel.end();
      });
    });
  }

  /** The connection's one SFTP channel, opened on first use. */
  sftp(): Promise<SFTPWrapper> {
    this.sftpChannel ??= new Promise((resolve, reject) => {
      this.client.sftp((error, sftp) => (error ? reject(error) : resolve(sftp)));
    });
    return this.sftpChannel;
  }

  /** Copies a host file into the box (parallel SFTP writes), with the given mode. */
  async upload(localFile: string, remotePath: string, mode = 0o644): Promise<void> {
    const sftp = await this.sftp();
    await new Promise<void>((resolve, reject) => sftp.fastPut(localFile, remotePath, { mode }, (error) => (error ? reject(error) : resolve())));
  }

  close(): void {
    this.client.end();
  }
}

export class HostKeyMismatchError extends EnvironmentError {}

/**
 * Opens a connection every `everyMs` until one hears the server's SSH banner and resolves
 * with it; the others are closed. Resolves undefined once `until` passes or `stopped()`.
 * QEMU's user network accepts a connection before the guest can answer it, and one made
 * before the guest's network is up stays silent until the guest's SYN retry, a second or
 * more later: waiting for the banner tells such a connection apart, and not waiting for it
 * before the next attempt keeps it from delaying the first one the guest answers.
 */
function firstAnswer(
  target: SshTarget,
  options: { everyMs: number; bannerTimeoutMs: number; until: number; stopped: () => boolean; onError: (error: Error) => void },
): Promise<net.Socket | undefined> {
  return new Promise((resolve) => {
    const attempts = new Set<() => void>();
    let ended = false;
    let timer: NodeJS.Timeout | undefined;
    const end = (socket?: net.Socket): void => {
      ended = true;
      clearTimeout(timer);
      for (const cancel of attempts) cancel();
      resolve(socket);
    };
    const attempt = (): void => {
      if (Date.now() >= options.until || options.stopped()) return end();
      const { answered, cancel } = waitForBanner(target, options.bannerTimeoutMs);
      attempts.add(cancel);
      answered.then(
        (socket) => {
          attempts.delete(cancel);
          if (ended) socket.destroy();
          else end(socket);
        },
        (error: Error) => {
          attempts.delete(cancel);
          if (!ended) options.onError(error);
        },
      );
      timer = setTimeout(attempt, options.everyMs);
    };
    attempt();
  });
}

/** One TCP connection that resolves once the server's first byte arrives; the byte stays unread for ssh2. */
function waitForBanner(target: SshTarget, timeoutMs: number): { answered: Promise<net.Socket>; cancel: () => void } {
  let cancel = (): void => undefined;
  const answered = new Promise<net.Socket>((resolve, reject) => {
    // No Nagle: SFTP (sshfs shares) and the runtime's exec channels are small request and
    // reply messages, and a held-back write waits for the peer's delayed ACK.
    const socket = net.connect({ port: target.port, host: target.host, noDelay: true });
    const fail = (error: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    cancel = () => fail(new Error('another connection answered first'));
    const timer = setTimeout(() => fail(new Error('no SSH banner yet')), timeoutMs);
    socket.once('error', fail);
    socket.once('close', () => fail(new Error('connection closed before the SSH banner')));
    socket.once('readable', () => {
      // 'readable' also announces the end of the stream: a closed connection has nothing to read.
      if (socket.readableLength === 0) return fail(new Error('connection closed before the SSH banner'));
      clearTimeout(timer);
      socket.removeAllListeners('error');
      socket.removeAllListeners('close');
      cancel = () => undefined;
      resolve(socket);
    });
  });
  return { answered, cancel: () => cancel() };
}

function connectOnce(target: SshTarget, expectedKey: Buffer, sock: net.Socket, readyTimeout: number): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let hostKeyMismatch = false;
    let settled = false;
    client.once('ready', () => {
      settled = true;
      resolve(client);
    });
    // 'on', not 'once': QEMU accepts the TCP connection before the guest's sshd listens, and
    // ssh2 may emit several errors for one failed attempt; an unhandled one would crash kiwi.
    // After 'ready', SshSession records the error and the channels' close events follow.
    client.on('error', (error) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(
        hostKeyMismatch
          ? new HostKeyMismatchError(`the box on 127.0.0.1:${target.port} presented an unexpected host key`, {
              hint: 'another process may own that port; run again (a fresh port is chosen) or pass another --ssh-port',
              cause: error,
            })
          : error,
      );
    });
    client.connect({
      sock,
      username: target.username,
      privateKey: target.privateKey,
      readyTimeout,
      // Two minutes without an answer before the box counts as gone. A guest under TCG on a
      // loaded host can freeze for tens of seconds and then go on: one in CI printed an RCU
      // stall of 21 s on its console, and 30 s of silence had dropped its build. A box whose
      // QEMU exits is seen at once by its process, not by this.
      keepaliveInterval: 10_000,
      keepaliveCountMax: 12,
      hostVerifier: (key: Buffer) => {
        hostKeyMismatch = !key.equals(expectedKey);
        return !hostKeyMismatch;
      },
    });
  });
}
