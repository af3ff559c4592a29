/**
 * Hashing small context files on every core: worker threads that each open, read, fstat and sha256 files handed
 * to them in batches, with blocking calls (nothing else runs in a worker, so blocking costs nothing).
 *
 * A worker only ever answers with a digest when the file is exactly as the walk saw it: its fstat after the
 * read gives the walk's stat key and the bytes read are its size. For anything else (changed since the walk,
 * grown past the buffer, gone, not a regular file any more, unreadable) it answers null and the caller
 * hashes that file itself, with the full checks and error messages.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

export interface WorkerFile {
  /** Absolute path. */
  abs: string;
  /** The walk's `statKey` of the file. */
  key: string;
}

/** Files per message: enough to make messaging cheap, few enough to keep every thread busy to the end. */
const BATCH = 64;

// Plain JavaScript, run with `eval` (so it works the same from dist/ and from ts-jest). The stat key is built
// exactly as `statKey` in types.ts builds it.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const crypto = require('node:crypto');
const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
const max = workerData.maxSize;
const buf = Buffer.allocUnsafe(max + 1);
const digest = crypto.hash
  ? (d) => crypto.hash('sha256', d, 'hex')
  : (d) => crypto.createHash('sha256').update(d).digest('hex');
function hashOne(abs, key) {
  let fd;
  try {
    fd = fs.openSync(abs, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    let total = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, total, buf.length - total, null);
      if (n === 0) break;
      total += n;
      if (total > max) return null;
    }
    const st = fs.fstatSync(fd, { bigint: true });
    if (!st.isFile() || st.size !== BigInt(total)) return null;
    if ([st.size, st.mtimeNs, st.ctimeNs, st.ino, st.dev].join(':') !== key) return null;
    return digest(buf.subarray(0, total));
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}
parentPort.on('message', (batch) => {
  const out = new Array(batch.abs.length);
  for (let i = 0; i < batch.abs.length; i++) out[i] = hashOne(batch.abs[i], batch.keys[i]);
  parentPort.postMessage(out);
});
`;

/** How many threads to hash with: one per core, none on a single core. */
export function hashThreads(): number {
  const cores = availableParallelism();
  return cores > 1 ? Math.min(cores, 8) : 0;
}

/**
 * The sha256 (hex) of each of `count` files (`fileAt(i)` describes file i, asked for as its batch is sent), or
 * null where the caller must hash it itself. `maxSize` is the largest file
 * a worker reads whole (a bigger one is answered null). Never fails: a worker that cannot start or dies leaves
 * its files null, for the caller to hash.
 */
export async function hashInWorkers(
  count: number,
  fileAt: (index: number) => WorkerFile,
  threads: number,
  maxSize: number,
): Promise<(string | null)[]> {
  const results = new Array<string | null>(count).fill(null);
  let next = 0;
  const run = (): Promise<void> =>
    new Promise((resolve) => {
      let worker: Worker;
      try {
        worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { maxSize } });
      } catch {
        resolve();
        return;
      }
      worker.unref();
      let start = 0;
      const send = (): void => {
        if (next >= count) {
          worker.terminate().catch(() => undefined);
          resolve();
          return;
        }
        start = next;
        next = Math.min(count, next + BATCH);
        const abs: string[] = [];
        const keys: string[] = [];
        for (let i = start; i < next; i++) {
          const file = fileAt(i);
          abs.push(file.abs);
          keys.push(file.key);
        }
        worker.postMessage({ abs, keys });
      };
      worker.on('message', (out: (string | null)[]) => {
        for (let i = 0; i < out.length; i++) results[start + i] = out[i];
        send();
      });
      // A dead worker's batch stays null; the others, or the caller, take the rest.
      worker.on('error', () => resolve());
      worker.on('exit', () => resolve());
      send();
    });
  await Promise.all(Array.from({ length: Math.max(1, threads) }, run));
  return results;
}
