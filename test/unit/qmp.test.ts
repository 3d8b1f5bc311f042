import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { summarizeRegisters, vcpuRegisters } from '../../src/vm/qmp.js';
import { tempDir } from '../fixtures/temp-dir.js';

// `info registers -a` as QEMU 7.2 prints it (abridged): x86_64 in real mode (the BIOS) and aarch64.
const X86_REGISTERS = `CPU#0
EAX=00000000 EBX=00000000 ECX=0000b79d EDX=00000000
EIP=0000b7b9 EFL=00000246 [---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=1
CPU#1
RAX=0000000000000000 RBX=ffffffff82a0c940 RCX=0000000000000001 RDX=0000000000000000
RIP=ffffffff81c3b1de RFL=00000246 [---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=0
`;
const ARM_REGISTERS = `CPU#0
 PC=ffff800008e5a1b4 X00=0000000000000000 X01=0000000000000000
PSTATE=600003c5 -ZC- EL1h    FPU disabled
CPU#1
 PC=0000000000000000 X00=0000000000000000 X01=0000000000000000
PSTATE=400003c5 -Z-- EL1h    FPU disabled
`;

describe('summarizeRegisters', () => {
  it('gives each vCPU its instruction pointer and state', () => {
    expect(summarizeRegisters(X86_REGISTERS)).toEqual(['CPU#0 EIP=0000b7b9 CPL=0 HLT=1', 'CPU#1 RIP=ffffffff81c3b1de CPL=0 HLT=0']);
    expect(summarizeRegisters(ARM_REGISTERS)).toEqual(['CPU#0 PC=ffff800008e5a1b4 PSTATE=600003c5', 'CPU#1 PC=0000000000000000 PSTATE=400003c5']);
  });
});

describe('vcpuRegisters', () => {
  const servers: net.Server[] = [];
  afterEach(() => {
    for (const server of servers.splice(0)) server.close();
  });

  /** A QMP server that answers each command line with the reply `answer` gives (or says nothing), as QEMU does. */
  async function qmpServer(answer: (command: { execute: string; arguments?: Record<string, unknown> }) => object[]): Promise<{ socket: string; commands: string[] }> {
    const socket = path.join(tempDir('kiwi-qmp-'), 'qmp.sock');
    const commands: string[] = [];
    const server = net.createServer((connection) => {
      connection.write(`${JSON.stringify({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 } }, capabilities: [] } })}\r\n`);
      let buffered = '';
      connection.on('data', (chunk) => {
        buffered += chunk.toString();
        for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
          const command = JSON.parse(buffered.slice(0, end)) as { execute: string; arguments?: Record<string, unknown> };
          buffered = buffered.slice(end + 1);
          commands.push(command.arguments ? `${command.execute} ${JSON.stringify(command.arguments)}` : command.execute);
          for (const reply of answer(command)) connection.write(`${JSON.stringify(reply)}\r\n`);
        }
      });
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    return { socket, commands };
  }

  it('negotiates capabilities, then asks for every vCPU\'s registers, passing over events', async () => {
    const { socket, commands } = await qmpServer((command) =>
      command.execute === 'qmp_capabilities' ? [{ event: 'RESUME', data: {} }, { return: {} }] : [{ return: X86_REGISTERS }],
    );
    await expect(vcpuRegisters(socket)).resolves.toBe(X86_REGISTERS);
    expect(commands).toEqual(['qmp_capabilities', 'human-monitor-command {"command-line":"info registers -a"}']);
  });

  it('fails with QEMU\'s error, and in bounded time when QEMU does not answer', async () => {
    const refusing = await qmpServer((command) => (command.execute === 'qmp_capabilities' ? [{ return: {} }] : [{ error: { class: 'GenericError', desc: 'no vCPUs' } }]));
    await expect(vcpuRegisters(refusing.socket)).rejects.toThrow('QMP human-monitor-command: no vCPUs');
    const silent = await qmpServer(() => []);
    await expect(vcpuRegisters(silent.socket, 200)).rejects.toThrow('QMP: no answer within 200 ms');
    await expect(vcpuRegisters(path.join(tempDir('kiwi-qmp-'), 'absent.sock'))).rejects.toThrow(/ENOENT/);
  });
});
