import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LockTimeoutError } from '../../src/store/errors';
import { acquireFileLock, withFileLock } from '../../src/store/file-lock';
import { processStartTime } from '../../src/store/process';
import { childEnv, transpileSources } from '../helpers/child-modules';

let dir: string;
let compiled: string;

beforeAll(async () => {
  compiled = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsbuild-lock-js-'));
  await transpileSources(compiled, ['cache']);
});

afterAll(async () => {
  await fsp.rm(compiled, { recursive: true, force: true });
});

beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsbuild-lock-'));
});

afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function lockRecord(pid: number, start: string | null): string {
  return JSON.stringify({ pid, start, host: os.hostname(), token: 'feedface' });
}

describe('file lock', () => {
  it('serialises critical sections', async () => {
    const lockPath = path.join(dir, 'locks', 'counter.lock');
    const counterPath = path.join(dir, 'counter');
    await fsp.writeFile(counterPath, '0');
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      Array.from({ length: 15 }, () =>
        withFileLock(lockPath, async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          const n = Number(await fsp.readFile(counterPath, 'utf8'));
          await sleep(2);
          await fsp.writeFile(counterPath, String(n + 1));
          inside--;
        }),
      ),
    );
    expect(maxInside).toBe(1);
    expect(await fsp.readFile(counterPath, 'utf8')).toBe('15');
    expect(await fsp.readdir(path.join(dir, 'locks'))).toEqual([]);
  });

  it('releases the lock when the critical section throws', async () => {
    const lockPath = path.join(dir, 'x.lock');
    await expect(withFileLock(lockPath, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    const lock = await acquireFileLock(lockPath, { timeoutMs: 500 });
    await lock.release();
    await lock.release();
  });

  it('times out against a live holder with a typed error', async () => {
    const lockPath = path.join(dir, 'busy.lock');
    await fsp.writeFile(lockPath, lockRecord(process.pid, processStartTime(process.pid)));
    await expect(acquireFileLock(lockPath, { timeoutMs: 200 })).rejects.toThrow(LockTimeoutError);
    // The live holder's lock was not broken.
    expect(await fsp.readFile(lockPath, 'utf8')).toContain('feedface');
  });

  it('breaks the lock of a dead pid', async () => {
    const child = spawn('sleep', ['60']);
    const pid = child.pid as number;
    const start = processStartTime(pid);
    await killAndWait(child);
    const lockPath = path.join(dir, 'dead.lock');
    await fsp.writeFile(lockPath, lockRecord(pid, start));
    const lock = await acquireFileLock(lockPath, { timeoutMs: 2000 });
    expect(await fsp.readFile(lockPath, 'utf8')).not.toContain('feedface');
    await lock.release();
  });

  it('treats a reused pid (different start time) as stale', async () => {
    const lockPath = path.join(dir, 'reused.lock');
    await fsp.writeFile(lockPath, lockRecord(process.pid, 'not-our-start-time'));
    const lock = await acquireFileLock(lockPath, { timeoutMs: 2000 });
    await lock.release();
  });

  it('breaks an old unparseable lock file but waits on a fresh one', async () => {
    const lockPath = path.join(dir, 'junk.lock');
    await fsp.writeFile(lockPath, 'garbage');
    await expect(acquireFileLock(lockPath, { timeoutMs: 150 })).rejects.toThrow(LockTimeoutError);
    const past = new Date(Date.now() - 60_000);
    await fsp.utimes(lockPath, past, past);
    const lock = await acquireFileLock(lockPath, { timeoutMs: 2000 });
    await lock.release();
  });

  it('survives a holder process killed with SIGKILL', async () => {
    const lockPath = path.join(dir, 'killed.lock');
    const script = `
      const { acquireFileLock } = require(${JSON.stringify(path.join(compiled, 'src', 'store', 'file-lock.js'))});
      acquireFileLock(${JSON.stringify(lockPath)}).then(() => { process.stdout.write('locked\\n'); setInterval(() => {}, 1000); });
    `;
    const child = spawn(process.execPath, ['-e', script], {
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (d: Buffer) => {
        if (d.toString().includes('locked')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`child exited early with ${code}`)));
    });
    // While the holder lives, nobody else gets in.
    await expect(acquireFileLock(lockPath, { timeoutMs: 150 })).rejects.toThrow(LockTimeoutError);
    await killAndWait(child);
    const started = Date.now();
    const lock = await acquireFileLock(lockPath, { timeoutMs: 5000 });
    expect(Date.now() - started).toBeLessThan(2000);
    await lock.release();
  });

  it('many processes contending keep mutual exclusion', async () => {
    const lockPath = path.join(dir, 'shared.lock');
    const counterPath = path.join(dir, 'counter');
    await fsp.writeFile(counterPath, '0');
    const script = `
      const fs = require('fs');
      const { withFileLock } = require(${JSON.stringify(path.join(compiled, 'src', 'store', 'file-lock.js'))});
      (async () => {
        for (let i = 0; i < 10; i++) {
          await withFileLock(${JSON.stringify(lockPath)}, async () => {
            const n = Number(fs.readFileSync(${JSON.stringify(counterPath)}, 'utf8'));
            await new Promise((r) => setTimeout(r, 1));
            fs.writeFileSync(${JSON.stringify(counterPath)}, String(n + 1));
          });
        }
      })().catch((e) => { console.error(e); process.exit(1); });
    `;
    const children = Array.from({ length: 6 }, () =>
      spawn(process.execPath, ['-e', script], { env: childEnv(), stdio: 'inherit' }),
    );
    const codes = await Promise.all(children.map((c) => new Promise((r) => c.on('exit', r))));
    expect(codes).toEqual(Array(6).fill(0));
    expect(await fsp.readFile(counterPath, 'utf8')).toBe('60');
  });
});

async function killAndWait(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.on('exit', r));
  child.kill('SIGKILL');
  await exited;
}
