import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable, Writable } from 'node:stream';
import ssh2, { type Client, type ClientChannel, type SFTPWrapper } from 'ssh2';
import { EnvironmentError } from '../common/errors.js';
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
  /** Wait between attempts, in ms. */
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
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  private connected = true;

  private constructor(private readonly client: Client) {
    client.once('close', () => (this.connected = false));
  }

  /** False once the connection has ended: closed by us, or dropped with the VM. */
  isConnected(): boolean {
    return this.connected;
  }

  /** Connects, retrying while the box boots, until `timeoutMs`; checks the host key. */
  static async connect(target: SshTarget, options: ConnectOptions): Promise<SshSession> {
    const deadline = Date.now() + options.timeoutMs;
    const expectedKey = publicKeyBlob(target.hostPublicKey);
    let lastError: Error | undefined;
    while (Date.now() < deadline) {
      options.signal?.throwIfAborted();
      if (options.isAlive && !options.isAlive()) break;
      try {
        const socket = await waitForBanner(target, options.bannerTimeoutMs ?? 1000);
        return new SshSession(await connectOnce(target, expectedKey, socket, Math.max(1000, Math.min(15_000, deadline - Date.now()))));
      } catch (error) {
        lastError = error as Error;
        if (lastError instanceof HostKeyMismatchError) throw lastError;
      }
      await sleep(options.retryMs ?? 250, undefined, { signal: options.signal });
    }
    throw new EnvironmentError(`the box did not answer on SSH (127.0.0.1:${target.port}) within ${options.timeoutMs / 1000}s`, {
      hint: 'see the serial console log for how far it booted; a slow host may need a larger --box-timeout',
      cause: lastError,
    });
  }

  /** Runs a command; resolves with its exit status once its channel closes. */
  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    await this.acquireSlot();
    try {
      const channel = await new Promise<ClientChannel>((resolve, reject) => {
        const execOptions = { ...(options.pty ? { pty: options.pty } : {}), ...(options.env ? { env: options.env } : {}) };
        this.client.exec(command, execOptions, (error, stream) => (error ? reject(error) : resolve(stream)));
      });
      return await new Promise<ExecResult>((resolve, reject) => {
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
    } finally {
      this.releaseSlot();
    }
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

  private async acquireSlot(): Promise<void> {
    if (this.running >= MAX_CONCURRENT_EXECS) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running += 1;
  }

  private releaseSlot(): void {
    this.running -= 1;
    this.waiting.shift()?.();
  }
}

export class HostKeyMismatchError extends EnvironmentError {}

/**
 * A TCP connection on which the server has started talking. QEMU's user network accepts a
 * connection before the guest can answer it; one made before the guest's network is up then
 * stays silent for seconds (the guest's SYN backoff). Waiting for the first byte of the
 * banner, briefly, tells such a connection apart; the byte stays unread for ssh2.
 */
function waitForBanner(target: SshTarget, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    // No Nagle: SFTP (sshfs shares) and the runtime's exec channels are small request and
    // reply messages, and a held-back write waits for the peer's delayed ACK.
    const socket = net.connect({ port: target.port, host: target.host, noDelay: true });
    const fail = (error: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    const timer = setTimeout(() => fail(new Error('no SSH banner yet')), timeoutMs);
    socket.once('error', fail);
    socket.once('close', () => fail(new Error('connection closed before the SSH banner')));
    socket.once('readable', () => {
      // 'readable' also announces the end of the stream: a closed connection has nothing to read.
      if (socket.readableLength === 0) return fail(new Error('connection closed before the SSH banner'));
      clearTimeout(timer);
      socket.removeAllListeners('error');
      socket.removeAllListeners('close');
      resolve(socket);
    });
  });
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
    // After 'ready', a dropped connection surfaces through the channels' close events.
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
      keepaliveInterval: 5000,
      keepaliveCountMax: 6,
      hostVerifier: (key: Buffer) => {
        hostKeyMismatch = !key.equals(expectedKey);
        return !hostKeyMismatch;
      },
    });
  });
}
