/**
 * One HTTP exchange with a registry (following redirects for reads), over node:http/https with keep-alive.
 * No retries and no auth here: the client decides what to repeat. Failures to connect or to finish a
 * response become retryable `RegistryError`s that say which host and what the socket reported.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { Readable } from 'node:stream';
import { RegistryError } from './errors';

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface HttpRequest {
  method: Method;
  url: URL;
  headers?: Record<string, string>;
  /** A stream can be sent once only; the caller retries whole operations, not single requests. */
  body?: Buffer | Readable;
  /** Check the server's TLS certificate (default true). */
  verifyTls?: boolean;
  /** Idle socket timeout (default 60 s). */
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Header names and values as sent, in order (repeated headers stay separate). */
  rawHeaders: string[];
  /** The URL that answered, after redirects. */
  url: URL;
  body: Readable;
}

const MAX_REDIRECTS = 5;
const DEFAULT_TIMEOUT_MS = 60_000;
/** Connection failures worth another try: the peer went away, refused us for now, or stalled. */
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
]);

const agents = {
  http: new http.Agent({ keepAlive: true, maxSockets: 16 }),
  https: new https.Agent({ keepAlive: true, maxSockets: 16 }),
  httpsInsecure: new https.Agent({ keepAlive: true, maxSockets: 16, rejectUnauthorized: false }),
};

/** Send a request; GET and HEAD follow redirects (dropping Authorization when the origin changes). */
export async function send(req: HttpRequest): Promise<HttpResponse> {
  let url = req.url;
  let headers = { ...req.headers };
  for (let hop = 0; ; hop++) {
    const res = await sendOnce({ ...req, url, headers });
    const location = res.headers.location;
    const followable = req.method === 'GET' || req.method === 'HEAD';
    if (!followable || !isRedirect(res.status) || location === undefined) return res;
    res.body.resume();
    if (hop >= MAX_REDIRECTS) {
      throw new RegistryError(`too many redirects from ${req.url.host} (last: ${location})`);
    }
    const next = new URL(location, url);
    if (next.origin !== url.origin) {
      // Blob storage behind a redirect (S3, a CDN) signs its own URLs; our registry token is not for it.
      headers = Object.fromEntries(
        Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'),
      );
    }
    url = next;
  }
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

function sendOnce(req: HttpRequest): Promise<HttpResponse> {
  const secure = req.url.protocol === 'https:';
  const agent = secure ? (req.verifyTls === false ? agents.httpsInsecure : agents.https) : agents.http;
  const headers: Record<string, string> = { ...req.headers };
  if (Buffer.isBuffer(req.body)) headers['Content-Length'] = String(req.body.length);
  const request = (secure ? https.request : http.request)(req.url, { method: req.method, headers, agent });
  const timeoutMs = req.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise<HttpResponse>((resolve, reject) => {
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      reject(networkError(req, err));
    };
    request.setTimeout(timeoutMs, () => {
      request.destroy(Object.assign(new Error(`no data for ${timeoutMs / 1000} s`), { code: 'ETIMEDOUT' }));
    });
    request.on('error', fail);
    request.on('response', (res) => {
      settled = true;
      // A response cut short surfaces as a stream error on the body; say where it came from.
      res.on('error', (err) => void err);
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        rawHeaders: res.rawHeaders,
        url: req.url,
        body: wrapBody(req, res),
      });
    });
    const body = req.body;
    if (body === undefined) request.end();
    else if (Buffer.isBuffer(body)) request.end(body);
    else {
      body.on('error', (err) => request.destroy(err));
      body.pipe(request);
    }
  });
}

/** The response body, with socket errors turned into retryable RegistryErrors naming the host. */
function wrapBody(req: HttpRequest, res: http.IncomingMessage): Readable {
  const out = new Readable({
    read() {
      res.resume();
    },
    destroy(err, cb) {
      res.destroy();
      cb(err);
    },
  });
  res.on('data', (chunk: Buffer) => {
    if (!out.push(chunk)) res.pause();
  });
  res.on('end', () => out.push(null));
  // The body may fail before anyone reads it (a reset right after the headers, while the caller opens the file
  // it streams into). Its reader still gets the error, from the errored stream; no listener must not mean a crash.
  out.on('error', () => undefined);
  res.on('error', (err) => out.destroy(networkError(req, err)));
  res.on('aborted', () =>
    out.destroy(networkError(req, Object.assign(new Error('aborted'), { code: 'ECONNRESET' }))),
  );
  return out;
}

export function networkError(req: HttpRequest, err: Error): RegistryError {
  if (err instanceof RegistryError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const where = `${req.method} ${req.url.origin}${req.url.pathname}`;
  if (isTlsMismatch(err)) {
    return new TlsHandshakeError(`${where}: TLS handshake failed (the server does not speak HTTPS)`);
  }
  // OpenSSL and friends write multi-line messages; the user gets one line.
  const said = err.message.replace(/\s+/g, ' ').trim();
  const retryable = TRANSIENT_CODES.has(code) || said === 'socket hang up' || said === 'aborted';
  return new RegistryError(`${where}: ${said}`, { retryable });
}

/** The server did not speak TLS (a plain-HTTP registry reached over https): worth trying http for insecure hosts. */
export class TlsHandshakeError extends RegistryError {}

function isTlsMismatch(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  return (
    code === 'EPROTO' || code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number/i.test(err.message)
  );
}

/** Read a (small) body as text, at most `limit` bytes; the rest is discarded. */
export async function readText(body: Readable, limit = 64 * 1024): Promise<string> {
  return (await readBytes(body, limit, false)).toString('utf8');
}

/**
 * Read a body into memory. With `strict`, a body longer than `limit` is an error (manifests are bounded);
 * otherwise it is cut at `limit`.
 */
export async function readBytes(body: Readable, limit: number, strict = true): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    if (size + buf.length > limit) {
      body.destroy();
      if (strict) throw new RegistryError(`response is larger than ${limit} bytes`);
      chunks.push(buf.subarray(0, limit - size));
      size = limit;
      break;
    }
    chunks.push(buf);
    size += buf.length;
  }
  return Buffer.concat(chunks, size);
}

/** Throw away a body we do not need, so the keep-alive socket can be reused. */
export function discard(res: HttpResponse): void {
  res.body.resume();
}

export function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** Every value of a header that may repeat (`WWW-Authenticate`), as sent: Node would join them with commas. */
export function headerAll(res: HttpResponse, name: string): string[] {
  const wanted = name.toLowerCase();
  const out: string[] = [];
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
    if ((res.rawHeaders[i] as string).toLowerCase() === wanted) out.push(res.rawHeaders[i + 1] as string);
  }
  return out;
}
