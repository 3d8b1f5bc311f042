'use strict';
/**
 * The worker-thread half of HashingFileWriter (hashing-file-writer.ts): writes each chunk
 * at its position and feeds the sha256 with it, off the main thread. Plain CommonJS so it
 * runs the same from src/ (tests) and dist/. Messages are typed in hashing-worker.ts.
 */
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { createHash } = require('node:crypto');

const { file, keepExisting } = workerData;
const reply = (message) => parentPort.postMessage(message);
const fail = (error) => reply({ type: 'error', message: error.message, code: error.code });

let fd;
let hash = createHash('sha256');
let written = 0;
try {
  fd = fs.openSync(file, keepExisting && fs.existsSync(file) ? 'r+' : 'w');
  if (keepExisting) {
    // A partial download from an earlier run: hash what is there once, resume after it.
    const chunk = Buffer.allocUnsafe(1 << 20);
    for (let n; (n = fs.readSync(fd, chunk, 0, chunk.length, written)) > 0; written += n) hash.update(chunk.subarray(0, n));
  }
  reply({ type: 'ready', written });
} catch (error) {
  fail(error);
}

function write(buffers, start) {
  let position = start;
  for (const buffer of buffers) {
    const bytes = new Uint8Array(buffer);
    for (let offset = 0; offset < bytes.length; ) {
      const n = fs.writeSync(fd, bytes, offset, bytes.length - offset, position);
      offset += n;
      position += n;
    }
    hash.update(bytes);
  }
  return position - start;
}

parentPort.on('message', (request) => {
  try {
    switch (request.type) {
      case 'write':
        reply({ type: 'written', bytes: write(request.buffers, request.position) });
        break;
      case 'restart':
        fs.ftruncateSync(fd, 0);
        hash = createHash('sha256');
        reply({ type: 'restarted' });
        break;
      case 'digest':
        reply({ type: 'digest', hex: hash.copy().digest('hex') });
        break;
      case 'close':
        fs.closeSync(fd);
        parentPort.close();
        break;
    }
  } catch (error) {
    fail(error);
  }
});
