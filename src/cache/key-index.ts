/**
 * The cache key index: `index/<key-hex>.json`, one record per step key. A record says what the step produced (a
 * layer, or only a config change) and keeps the key's inputs themselves, so that a later miss can be explained by
 * diffing inputs instead of just saying "the hash changed".
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { atomicWriteFile, isErrno } from '../store/atomic';
import type { LayerRecord } from '../image/stored-image';
import type { StepInputs } from './step-key';
import { digestHex, type Digest } from '../store/digest';

export interface CacheRecord {
  version: 1;
  key: Digest;
  /** The instruction as the log shows it, e.g. `COPY . /app`. */
  description: string;
  /** The layer the step added, or null for metadata-only steps. */
  layer: LayerRecord | null;
  /** The key's inputs (parent key, expanded op, file inputs digest), kept to explain misses. */
  inputs: StepInputs;
  /** How long the step took when it was built: what a hit saves. */
  durationMs: number;
  createdAt: string;
  lastUsedAt: string;
  /**
   * For a `COPY --from`: the key of the content it copied (see `executor/ops/copy/copied-content.ts`), which the
   * steps after it stand on, so that a source rebuilt to the same files changes nothing after the copy.
   */
  resultKey?: Digest;
}

/** How stale `lastUsedAt` may get before a hit rewrites it; far below any sane prune duration. */
const TOUCH_INTERVAL_MS = 10 * 60 * 1000;

export class KeyIndex {
  readonly dir: string;

  constructor(root: string) {
    this.dir = path.join(root, 'index');
  }

  recordPath(key: Digest): string {
    return path.join(this.dir, `${digestHex(key)}.json`);
  }

  async get(key: Digest): Promise<CacheRecord | undefined> {
    let text: string;
    try {
      text = await fsp.readFile(this.recordPath(key), 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    }
    try {
      const record = JSON.parse(text) as CacheRecord;
      return record.version === 1 && record.key === key ? record : undefined;
    } catch {
      // A record is written atomically, so garbage here is foreign damage: treat it as a miss, rebuild over it.
      return undefined;
    }
  }

  async put(record: CacheRecord): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true });
    await atomicWriteFile(this.recordPath(record.key), JSON.stringify(record));
  }

  /**
   * Marks a hit as used now (for LRU pruning). Best effort: a lost update only makes pruning less precise. A record
   * used within the last minutes is left alone, so a no-op rebuild does not rewrite (and fsync) every record.
   */
  async touch(record: CacheRecord, now = Date.now()): Promise<void> {
    if (now - Date.parse(record.lastUsedAt) < TOUCH_INTERVAL_MS) return;
    try {
      await this.put({ ...record, lastUsedAt: new Date().toISOString() });
    } catch {
      // not worth failing a build over
    }
  }
}
