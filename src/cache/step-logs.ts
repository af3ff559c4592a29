/**
 * A RUN's whole output, kept in the store under the step's cache key (`logs/<hex>.log`), so that `tsbuild logs` can
 * print it after the fact: the live view shows only a window of it, and a hit reuses the layer of the build that
 * printed it. Written once, when the command is over (temp → fsync → rename); a failed step's log is kept too,
 * since that is the one people ask for.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { atomicWriteFile, readdirOrEmpty, readFileOrUndefined } from '../store/atomic';
import { digestHex, isDigest, type Digest } from '../store/digest';

/** A log keeps this much of a command's output; past it, a line says how much was left out. */
export const MAX_STEP_LOG_BYTES = 32 * 1024 * 1024;
/** A failed step's log (no record names its key) outlives a prune for this long. */
const UNRECORDED_LOG_TTL_MS = 24 * 60 * 60 * 1000;
const LOG_RE = /^([0-9a-f]{64})\.log$/;

function logsDir(root: string): string {
  return path.join(root, 'logs');
}

export function stepLogPath(root: string, key: Digest): string {
  return path.join(logsDir(root), `${digestHex(key)}.log`);
}

/** A line of one stream with no newline for this long goes into the log as it is. */
const MAX_PENDING_BYTES = 64 * 1024;

/**
 * Collects a running command's output, bounded, in the order it came. Each stream's output goes in by whole lines,
 * so that a line on stderr does not land in the middle of one on stdout; what is left without a newline goes in
 * at the end. `\r` stays: the log is what the process wrote.
 */
export class StepLogRecorder {
  private readonly chunks: Buffer[] = [];
  private readonly pending = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };
  private kept = 0;
  private dropped = 0;

  append(chunk: Buffer, stream: 'stdout' | 'stderr' = 'stdout'): void {
    const joined = Buffer.concat([this.pending[stream], chunk]);
    const end = joined.lastIndexOf(0x0a) + 1;
    const whole = joined.length > MAX_PENDING_BYTES ? joined.length : end;
    this.keep(joined.subarray(0, whole));
    this.pending[stream] = Buffer.from(joined.subarray(whole));
  }

  private keep(part: Buffer): void {
    if (part.length === 0) return;
    const room = MAX_STEP_LOG_BYTES - this.kept;
    const taken = part.length <= room ? part : part.subarray(0, Math.max(0, room));
    if (taken.length > 0) this.chunks.push(Buffer.from(taken));
    this.kept += taken.length;
    this.dropped += part.length - taken.length;
  }

  get bytes(): number {
    return this.kept + this.dropped;
  }

  /** Saves what was collected under the step's key; the number of bytes the command printed. */
  async save(root: string, key: Digest): Promise<number> {
    for (const stream of ['stdout', 'stderr'] as const) {
      const rest = this.pending[stream];
      this.pending[stream] = Buffer.alloc(0);
      // An unfinished line ends the log's line all the same, so the next stream's rest starts on its own.
      this.keep(
        rest.length > 0 && stream === 'stdout' && this.pending.stderr.length > 0
          ? Buffer.concat([rest, Buffer.from('\n')])
          : rest,
      );
    }
    await fsp.mkdir(logsDir(root), { recursive: true });
    const tail = this.dropped > 0 ? [Buffer.from(`\n[log cut: ${this.dropped} more bytes not kept]\n`)] : [];
    await atomicWriteFile(stepLogPath(root, key), Buffer.concat([...this.chunks, ...tail]));
    return this.bytes;
  }
}

/** The saved output of the step with this key, or undefined when none was saved. */
export async function readStepLog(root: string, key: Digest): Promise<Buffer | undefined> {
  return readFileOrUndefined(stepLogPath(root, key));
}

/** The keys with a saved log whose hex starts with `prefix` (a short key as `history` prints it). */
export async function stepLogsMatching(root: string, prefix: string): Promise<Digest[]> {
  const hex = prefix.replace(/^sha256:/, '').toLowerCase();
  const keys: Digest[] = [];
  for (const name of await readdirOrEmpty(logsDir(root))) {
    const m = LOG_RE.exec(name);
    const key = m && `sha256:${m[1]}`;
    if (key && m[1].startsWith(hex) && isDigest(key)) keys.push(key);
  }
  return keys.sort();
}

/**
 * After a prune: drops the logs of keys no record names any more, except recent ones (a failed step has no record,
 * and its log is wanted right after the failure).
 */
export async function pruneStepLogs(
  root: string,
  recorded: ReadonlySet<string>,
  nowMs = Date.now(),
): Promise<number> {
  let removed = 0;
  for (const name of await readdirOrEmpty(logsDir(root))) {
    const m = LOG_RE.exec(name);
    if (!m || recorded.has(`sha256:${m[1]}`)) continue;
    const file = path.join(logsDir(root), name);
    const st = await fsp.stat(file).catch(() => undefined);
    if (!st || nowMs - st.mtimeMs < UNRECORDED_LOG_TTL_MS) continue;
    await fsp.rm(file, { force: true });
    removed++;
  }
  return removed;
}
