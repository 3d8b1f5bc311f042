import net from 'node:net';
import ssh2 from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { SshSession } from '../../src/transport/ssh-session.js';
import { generateVmKeys } from '../../src/transport/ssh-keys.js';

// A real ssh2 server on loopback behind a TCP listener that, like QEMU's user network
// before the guest's network is up, accepts connections and keeps them silent.
describe('SshSession.connect', () => {
  const servers: net.Server[] = [];
  afterEach(() => {
    for (const server of servers.splice(0)) server.close();
  });

  it('reaches a box that starts answering while an earlier connection still waits in silence, and closes the silent ones', async () => {
    const keys = generateVmKeys('test');
    const ssh = new ssh2.Server({ hostKeys: [keys.host.privateKey] }, (client) => {
      client.on('authentication', (context) => (context.method === 'publickey' ? context.accept() : context.reject(['publickey'])));
      client.on('error', () => undefined);
    });
    const answersAfterMs = 300;
    const started = Date.now();
    const silent: net.Socket[] = [];
    const listener = net.createServer((socket) => {
      if (Date.now() - started < answersAfterMs) silent.push(socket);
      else ssh.injectSocket(socket);
    });
    servers.push(listener);
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const port = (listener.address() as net.AddressInfo).port;

    const session = await SshSession.connect(
      { host: '127.0.0.1', port, username: 'root', privateKey: keys.client.privateKey, hostPublicKey: keys.host.publicKey },
      { timeoutMs: 20_000, retryMs: 100, bannerTimeoutMs: 5000 },
    );
    const tookMs = Date.now() - started;
    session.close();
    // One attempt after another would have waited out the first silent connection (5 s).
    expect(tookMs).toBeLessThan(2500);
    expect(silent.length).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(silent.filter((socket) => !socket.closed && !socket.readableEnded)).toEqual([]);
  });
});
