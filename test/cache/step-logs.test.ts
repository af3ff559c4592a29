/**
 * A RUN's whole output kept under the step's key in a real store dir: saved and read back byte for byte, bounded
 * by MAX_STEP_LOG_BYTES with a line saying what was cut, found by a key prefix, and pruned when no record names
 * it and it is old.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  MAX_STEP_LOG_BYTES,
  pruneStepLogs,
  readStepLog,
  StepLogRecorder,
  stepLogPath,
  stepLogsMatching,
} from '../../src/cache/step-logs';
import type { Digest } from '../../src/store/digest';

const key = (hex: string): Digest => `sha256:${hex.padEnd(64, '0')}`;
const DAY_MS = 24 * 60 * 60 * 1000;

let root: string;

beforeEach(async () => {
  root = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsbuild-step-logs-'));
});
afterEach(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

async function saveLog(k: Digest, text: string): Promise<void> {
  const r = new StepLogRecorder();
  r.append(Buffer.from(text));
  await r.save(root, k);
}

async function logFiles(): Promise<string[]> {
  return (await fsp.readdir(path.join(root, 'logs'))).sort();
}

describe('StepLogRecorder', () => {
  test('save then readStepLog gives the chunks back in order, byte for byte', async () => {
    const r = new StepLogRecorder();
    const chunks = [
      Buffer.from('stdout line\n'),
      Buffer.from([0xff, 0xfe, 0x00, 0x80]),
      Buffer.from('err\r\n'),
    ];
    for (const c of chunks) r.append(c);
    expect(r.bytes).toBe(12 + 4 + 5);
    const k = key('ab');
    expect(await r.save(root, k)).toBe(21);
    expect(await readStepLog(root, k)).toEqual(Buffer.concat(chunks));
    expect(await fsp.readFile(stepLogPath(root, k))).toEqual(Buffer.concat(chunks));
    expect(stepLogPath(root, k)).toBe(path.join(root, 'logs', `${'ab'.padEnd(64, '0')}.log`));
  });

  test('an empty output is saved as an empty log, not as none', async () => {
    const k = key('cd');
    expect(await new StepLogRecorder().save(root, k)).toBe(0);
    expect(await readStepLog(root, k)).toEqual(Buffer.alloc(0));
  });

  test('readStepLog of a key with no log is undefined, also without a logs dir', async () => {
    expect(await readStepLog(root, key('ee'))).toBeUndefined();
    await saveLog(key('ab'), 'x');
    expect(await readStepLog(root, key('ee'))).toBeUndefined();
  });

  test('a chunk is copied when appended: the caller reusing its buffer does not change the log', async () => {
    const r = new StepLogRecorder();
    const buf = Buffer.from('first\n');
    r.append(buf);
    buf.write('XXXXX\n');
    r.append(buf);
    await r.save(root, key('aa'));
    expect((await readStepLog(root, key('aa')))?.toString()).toBe('first\nXXXXX\n');
  });

  test('saving again under the same key replaces the log', async () => {
    await saveLog(key('aa'), 'old output\n');
    await saveLog(key('aa'), 'new\n');
    expect((await readStepLog(root, key('aa')))?.toString()).toBe('new\n');
  });

  test(`output past MAX_STEP_LOG_BYTES is cut, the log ending with how much was left out`, async () => {
    const half = MAX_STEP_LOG_BYTES / 2;
    const r = new StepLogRecorder();
    r.append(Buffer.alloc(half, 'a'));
    r.append(Buffer.alloc(half - 10, 'b'));
    // Only 10 bytes of this one fit; the next is dropped whole.
    r.append(Buffer.alloc(100, 'c'));
    r.append(Buffer.alloc(half, 'd'));
    const printed = MAX_STEP_LOG_BYTES + 90 + half;
    expect(r.bytes).toBe(printed);
    const k = key('5e');
    expect(await r.save(root, k)).toBe(printed);

    const log = await readStepLog(root, k);
    if (log === undefined) throw new Error('no log saved');
    const tail = `\n[log cut: ${90 + half} more bytes not kept]\n`;
    expect(log.length).toBe(MAX_STEP_LOG_BYTES + Buffer.byteLength(tail));
    expect(log.subarray(MAX_STEP_LOG_BYTES).toString()).toBe(tail);
    expect(log[0]).toBe('a'.charCodeAt(0));
    expect(log[half]).toBe('b'.charCodeAt(0));
    expect(log.subarray(MAX_STEP_LOG_BYTES - 10, MAX_STEP_LOG_BYTES).toString()).toBe('c'.repeat(10));
    expect(log.includes('d')).toBe(false);
  });

  test('output of exactly MAX_STEP_LOG_BYTES is kept whole, with no cut line', async () => {
    const r = new StepLogRecorder();
    r.append(Buffer.alloc(MAX_STEP_LOG_BYTES, 'z'));
    const k = key('77');
    await r.save(root, k);
    const log = await readStepLog(root, k);
    expect(log?.length).toBe(MAX_STEP_LOG_BYTES);
    expect(log?.includes('[log cut')).toBe(false);
  });

  test('no temp files are left behind in logs/', async () => {
    await saveLog(key('a1'), 'one');
    await saveLog(key('a2'), 'two');
    await saveLog(key('a1'), 'again');
    expect(await logFiles()).toEqual([`${'a1'.padEnd(64, '0')}.log`, `${'a2'.padEnd(64, '0')}.log`]);
  });
});

describe('stepLogsMatching', () => {
  const k1 = key('ab12');
  const k2 = key('ab34');
  const k3 = key('cd56');

  beforeEach(async () => {
    for (const k of [k3, k1, k2]) await saveLog(k, k);
    // Not logs: a temp file a killed writer left, a name that is not a key.
    await fsp.writeFile(path.join(root, 'logs', `.${'ab'.padEnd(64, '9')}.log.1.abc.tmp`), 'x');
    await fsp.writeFile(path.join(root, 'logs', 'ab.log'), 'x');
  });

  test('keys whose hex starts with the prefix, sorted', async () => {
    expect(await stepLogsMatching(root, 'ab')).toEqual([k1, k2]);
    expect(await stepLogsMatching(root, 'ab3')).toEqual([k2]);
    expect(await stepLogsMatching(root, 'ef')).toEqual([]);
  });

  test('the prefix may carry sha256: and be upper case', async () => {
    expect(await stepLogsMatching(root, 'sha256:ab1')).toEqual([k1]);
    expect(await stepLogsMatching(root, 'AB')).toEqual([k1, k2]);
    expect(await stepLogsMatching(root, k3)).toEqual([k3]);
  });

  test('an empty prefix is every log', async () => {
    expect(await stepLogsMatching(root, '')).toEqual([k1, k2, k3]);
  });

  test('a store without logs/ has none', async () => {
    const empty = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsbuild-step-logs-empty-'));
    try {
      expect(await stepLogsMatching(empty, 'ab')).toEqual([]);
    } finally {
      await fsp.rm(empty, { recursive: true, force: true });
    }
  });
});

describe('pruneStepLogs', () => {
  test('keeps recorded keys and recent unrecorded ones, removes old unrecorded ones', async () => {
    const now = Date.now();
    const recordedOld = key('01');
    const recentUnrecorded = key('02');
    const oldUnrecorded = key('03');
    const oldUnrecorded2 = key('04');
    for (const k of [recordedOld, recentUnrecorded, oldUnrecorded, oldUnrecorded2]) await saveLog(k, 'log');
    const twoDaysAgo = new Date(now - 2 * DAY_MS);
    for (const k of [recordedOld, oldUnrecorded, oldUnrecorded2])
      await fsp.utimes(stepLogPath(root, k), twoDaysAgo, twoDaysAgo);
    const hourAgo = new Date(now - 60 * 60 * 1000);
    await fsp.utimes(stepLogPath(root, recentUnrecorded), hourAgo, hourAgo);
    const stray = path.join(root, 'logs', 'notes.txt');
    await fsp.writeFile(stray, 'not a log');
    await fsp.utimes(stray, twoDaysAgo, twoDaysAgo);

    expect(await pruneStepLogs(root, new Set([recordedOld]), now)).toBe(2);

    expect(await readStepLog(root, recordedOld)).toBeDefined();
    expect(await readStepLog(root, recentUnrecorded)).toBeDefined();
    expect(await readStepLog(root, oldUnrecorded)).toBeUndefined();
    expect(await readStepLog(root, oldUnrecorded2)).toBeUndefined();
    // Only `<hex>.log` files are its to remove.
    expect(await fsp.readFile(stray, 'utf8')).toBe('not a log');
  });

  test('a recent log becomes old as time passes: the clock is the one given', async () => {
    const k = key('0a');
    await saveLog(k, 'log');
    const mtime = (await fsp.stat(stepLogPath(root, k))).mtimeMs;
    expect(await pruneStepLogs(root, new Set(), mtime + DAY_MS - 1000)).toBe(0);
    expect(await readStepLog(root, k)).toBeDefined();
    expect(await pruneStepLogs(root, new Set(), mtime + DAY_MS + 1000)).toBe(1);
    expect(await readStepLog(root, k)).toBeUndefined();
  });

  test('a store without logs/ prunes nothing', async () => {
    expect(await pruneStepLogs(root, new Set(), Date.now())).toBe(0);
  });
});
