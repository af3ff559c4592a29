/**
 * ADD of a URL, as `docker build` (BuildKit's http source) does it: one GET, redirects followed, the body
 * streamed to a temp file and hashed on the way, the optional `--checksum` verified, and `Last-Modified` kept as
 * the file's mtime. What to name the file and where to put it in the image is the caller's business.
 */
import { goHttpRequest, type GoHttpRequest } from '../../../go/http-request';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { BuildError, UserError } from '../../../errors';

export interface FetchRemoteOptions {
  /** Directory for the downloaded file (created when missing). */
  tmpDir: string;
  /** `ADD --checksum`: `sha256:<64 lower-case hex digits>`. */
  checksum?: string;
  /** Give up after this long, body included. BuildKit has no limit, so neither do we by default. */
  timeoutMs?: number;
}

export interface RemoteSource {
  /** The downloaded temp file (mode 0600); the caller moves or deletes it. */
  path: string;
  /** Lower-case hex sha256 of the content. */
  sha256: string;
  size: number;
  /** The name ADD gives the file: see `remoteFileName`. */
  fileName: string;
  /** Seconds since the epoch, from a parseable `Last-Modified`. */
  mtime?: number;
}

/** BuildKit's name for a URL whose path has no last element. */
export const UNNAMED_REMOTE_FILE = '__unnamed__';

const CHECKSUM = /^sha256:([0-9a-f]{64})$/;

/**
 * Download `url` to a new file in `tmpDir`. Bad input (not http/https, malformed URL or checksum) is a
 * `UserError`; anything that goes wrong while fetching (network, HTTP status, checksum mismatch) a `BuildError`.
 * The temp file is removed on every failure.
 */
export async function fetchRemoteSource(url: string, options: FetchRemoteOptions): Promise<RemoteSource> {
  const { request, shown, headers } = prepareRequest(url);
  const expected = parseChecksum(options.checksum, shown);
  const signal = options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs);
  const fail = (what: string, err: unknown): BuildError =>
    signal?.aborted
      ? new BuildError(`ADD failed: timed out after ${options.timeoutMs} ms fetching ${shown}`)
      : new BuildError(`ADD failed: ${what} ${shown}: ${describe(err)}`);

  try {
    await fsp.mkdir(options.tmpDir, { recursive: true });
  } catch (err) {
    throw new BuildError(`ADD failed: cannot create ${options.tmpDir}: ${describe(err)}`);
  }
  let response: Response;
  try {
    response = await fetch(request, { headers, redirect: 'follow', signal });
  } catch (err) {
    throw fail('cannot fetch', err);
  }
  // BuildKit accepts any status below 400 once redirects are followed (a 204 is an empty file).
  if (response.status < 200 || response.status >= 400) {
    await response.body?.cancel().catch(() => undefined);
    const text = response.statusText ? ` ${response.statusText}` : '';
    throw new BuildError(`ADD failed: ${shown}: server responded with HTTP ${response.status}${text}`);
  }

  const file = path.join(options.tmpDir, `.add-${randomBytes(8).toString('hex')}`);
  try {
    const { sha256, size } = await saveBody(response, file);
    if (expected !== undefined && sha256 !== expected) {
      throw new BuildError(
        `ADD failed: checksum mismatch for ${shown}: expected sha256:${expected} got sha256:${sha256}`,
      );
    }
    const mtime = parseHttpDate(response.headers.get('last-modified'));
    return {
      path: file,
      sha256,
      size,
      fileName: remoteFileName(url),
      ...(mtime === undefined ? {} : { mtime }),
    };
  } catch (err) {
    await fsp.rm(file, { force: true });
    if (err instanceof BuildError) throw err;
    throw fail('cannot download', err);
  }
}

/**
 * The file name ADD uses for a URL, exactly as BuildKit's Dockerfile frontend picks it: the last element of the
 * URL's decoded path (query and fragment ignored), or `__unnamed__` when there is none or the URL does not parse.
 * `..` is also `__unnamed__` here (BuildKit would try to write outside its directory).
 */
export function remoteFileName(url: string): string {
  let pathname: string;
  try {
    // Go's `url.Path` is percent-decoded; a bad escape makes `url.Parse` fail, hence the fallback.
    pathname = decodeURIComponent(new URL(url).pathname);
  } catch {
    return UNNAMED_REMOTE_FILE;
  }
  const base = goBase(pathname);
  return base === '.' || base === '/' || base === '..' ? UNNAMED_REMOTE_FILE : base;
}

/** Go's `path.Base`: the last element after trailing slashes are removed; `.` for "", `/` for all slashes. */
function goBase(p: string): string {
  if (p === '') return '.';
  const trimmed = p.replace(/\/+$/, '');
  if (trimmed === '') return '/';
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

function prepareRequest(url: string): GoHttpRequest {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UserError(`ADD failed: invalid URL ${JSON.stringify(url)}`);
  }
  const prepared = goHttpRequest(parsed);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UserError(`ADD failed: cannot fetch ${prepared.shown}: only http and https URLs are supported`);
  }
  return prepared;
}

function parseChecksum(checksum: string | undefined, shown: string): string | undefined {
  if (checksum === undefined) return undefined;
  const m = CHECKSUM.exec(checksum);
  if (!m) {
    throw new UserError(
      `ADD failed: invalid checksum ${JSON.stringify(checksum)} for ${shown}: expected sha256:<64 hex digits>`,
    );
  }
  return m[1];
}

/** Stream the body to a new file, hashing and counting as it passes; nothing is held in memory. */
async function saveBody(response: Response, file: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  // Opened before the pipeline starts: a stream that opens lazily can create the file after a failed download
  // was already cleaned up, leaving it behind.
  const out = (await fsp.open(file, 'wx', 0o600)).createWriteStream();
  if (response.body === null) {
    await pipeline(Readable.from([]), meter, out);
  } else {
    await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), meter, out);
  }
  return { sha256: hash.digest('hex'), size };
}

const DAYS = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const LONG_DAYS = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MON = `(${MONTHS.join('|')})`;
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
// Go's http.ParseTime tries these three layouts: RFC 1123 with GMT, RFC 850, and ANSI C's asctime.
const IMF_FIXDATE = new RegExp(`^${DAYS}, (\\d{2}) ${MON} (\\d{4}) ${TIME} GMT$`);
const RFC850 = new RegExp(`^${LONG_DAYS}, (\\d{2})-${MON}-(\\d{2}) ${TIME} [A-Z]{3,4}$`);
const ASCTIME = new RegExp(`^${DAYS} ${MON} ( \\d|\\d{2}) ${TIME} (\\d{4})$`);

/**
 * `Last-Modified` as seconds since the epoch, or undefined when absent or unparseable (BuildKit then keeps no
 * time either). Written out rather than `Date.parse`, which reads asctime dates as local time and accepts
 * anything that looks vaguely like a date.
 */
function parseHttpDate(value: string | null): number | undefined {
  if (value === null) return undefined;
  let m: RegExpExecArray | null;
  let parts: [year: number, month: string, day: string, h: string, min: string, s: string];
  if ((m = IMF_FIXDATE.exec(value))) {
    parts = [Number(m[3]), m[2], m[1], m[4], m[5], m[6]];
  } else if ((m = RFC850.exec(value))) {
    // Go's two-digit years: 69–99 are 19xx, 00–68 are 20xx. The zone is almost always GMT; Go reads an
    // abbreviation it does not know as UTC too.
    const yy = Number(m[3]);
    parts = [yy >= 69 ? 1900 + yy : 2000 + yy, m[2], m[1], m[4], m[5], m[6]];
  } else if ((m = ASCTIME.exec(value))) {
    parts = [Number(m[6]), m[1], m[2].trim(), m[3], m[4], m[5]];
  } else {
    return undefined;
  }
  const [year, monthName, day, hour, minute, second] = parts;
  const month = MONTHS.indexOf(monthName);
  const fields = [Number(day), Number(hour), Number(minute), Number(second)];
  const ms = Date.UTC(year, month, fields[0], fields[1], fields[2], fields[3]);
  const d = new Date(ms);
  // Date.UTC rolls Feb 30 over into March; Go rejects it ("day out of range"), and so do we.
  const exact =
    d.getUTCFullYear() === year &&
    d.getUTCMonth() === month &&
    d.getUTCDate() === fields[0] &&
    d.getUTCHours() === fields[1] &&
    d.getUTCMinutes() === fields[2] &&
    d.getUTCSeconds() === fields[3];
  return exact ? Math.floor(ms / 1000) : undefined;
}

/** The most useful line about a failure. Checked by shape: fetch's errors come from another realm under jest. */
function describe(err: unknown): string {
  if (typeof err !== 'object' || err === null) return String(err);
  const e = err as { message?: unknown; code?: unknown; cause?: unknown };
  // fetch says only "fetch failed" and puts the useful part (ECONNREFUSED, a TLS error…) in `cause`.
  if (e.cause !== undefined && e.cause !== null) return describe(e.cause);
  if (typeof e.message === 'string' && e.message !== '') return e.message;
  if (typeof e.code === 'string') return e.code;
  return String(err);
}
