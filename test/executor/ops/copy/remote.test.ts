/**
 * ADD <url> against a real HTTP server on 127.0.0.1: what is downloaded, how it is named and dated, and how each
 * failure reads. No network beyond the loopback interface.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  fetchRemoteSource,
  remoteFileName,
  UNNAMED_REMOTE_FILE,
} from '../../../../src/executor/ops/copy/remote';
import { BuildError, UserError } from '../../../../src/errors';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

let server: http.Server;
let base: string;
const routes = new Map<string, Handler>();
/** Every request the server saw: method, url, headers. */
const seen: { url: string; headers: http.IncomingHttpHeaders }[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    const handler = routes.get(new URL(req.url ?? '/', 'http://x').pathname);
    if (handler) return handler(req, res);
    res.writeHead(404, 'Not Found').end('no such thing');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

let tmpDir: string;
beforeEach(() => {
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsbuild-remote-'));
  routes.clear();
  seen.length = 0;
});
afterEach(() => fs.rmSync(tmpDir, { recursive: true, force: true }));

const serve = (route: string, body: Buffer | string, headers: Record<string, string> = {}): void => {
  routes.set(route, (_req, res) => res.writeHead(200, headers).end(body));
};

/** Run `fn`, expecting it to throw; return what it threw. */
async function thrown(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('fetchRemoteSource', () => {
  test('downloads to a 0600 temp file in tmpDir, with sha256, size and the URL’s file name', async () => {
    const body = Buffer.alloc(3 * 1024 * 1024 + 17, 'tsbuild ');
    serve('/dl/tool.tar.gz', body);
    const got = await fetchRemoteSource(`${base}/dl/tool.tar.gz?version=3#top`, { tmpDir });
    expect(got).toEqual({
      path: expect.any(String),
      sha256: sha256(body),
      size: body.length,
      fileName: 'tool.tar.gz',
    });
    expect(path.dirname(got.path)).toBe(tmpDir);
    expect(fs.readFileSync(got.path).equals(body)).toBe(true);
    expect(fs.statSync(got.path).mode & 0o777).toBe(0o600);
  });

  test('an empty body is an empty file', async () => {
    serve('/empty', '');
    const got = await fetchRemoteSource(`${base}/empty`, { tmpDir });
    expect(got.size).toBe(0);
    expect(got.sha256).toBe(sha256(''));
    expect(fs.readFileSync(got.path).length).toBe(0);
  });

  test('streams the body to disk as it arrives (it is never held whole in memory)', async () => {
    const first = Buffer.alloc(256 * 1024, 'a');
    const second = Buffer.alloc(1024, 'b');
    let sawPartialFile = false;
    routes.set('/slow', (_req, res) => {
      res.writeHead(200, { 'content-length': String(first.length + second.length) });
      res.write(first);
      // Finish only once the first part is on disk: a client that buffered the whole body would never get here.
      const started = Date.now();
      const poll = setInterval(() => {
        const sizes = fs.readdirSync(tmpDir).map((f) => fs.statSync(path.join(tmpDir, f)).size);
        sawPartialFile = sizes.some((s) => s >= first.length);
        if (sawPartialFile || Date.now() - started > 5000) {
          clearInterval(poll);
          res.end(second);
        }
      }, 10);
    });
    const got = await fetchRemoteSource(`${base}/slow`, { tmpDir });
    expect(sawPartialFile).toBe(true);
    expect(got.sha256).toBe(sha256(Buffer.concat([first, second])));
  });

  test('a matching checksum passes', async () => {
    serve('/a.txt', 'hello\n');
    const got = await fetchRemoteSource(`${base}/a.txt`, { tmpDir, checksum: `sha256:${sha256('hello\n')}` });
    expect(got.sha256).toBe(sha256('hello\n'));
    expect(fs.readFileSync(got.path, 'utf8')).toBe('hello\n');
  });

  test('a checksum mismatch is a BuildError naming both digests, and leaves no file behind', async () => {
    serve('/a.txt', 'hello\n');
    const wrong = 'f'.repeat(64);
    const err = await thrown(() =>
      fetchRemoteSource(`${base}/a.txt`, { tmpDir, checksum: `sha256:${wrong}` }),
    );
    expect(err).toBeInstanceOf(BuildError);
    expect((err as BuildError).exitCode).toBe(1);
    expect(err.message).toBe(
      `ADD failed: checksum mismatch for ${base}/a.txt: expected sha256:${wrong} got sha256:${sha256('hello\n')}`,
    );
    expect(fs.readdirSync(tmpDir)).toEqual([]);
  });

  test.each(['sha256:abc', 'md5:' + 'a'.repeat(32), 'sha256:' + 'A'.repeat(64), 'a'.repeat(64)])(
    'a malformed checksum %p is a UserError, before any request',
    async (checksum) => {
      serve('/a.txt', 'hello\n');
      const err = await thrown(() => fetchRemoteSource(`${base}/a.txt`, { tmpDir, checksum }));
      expect(err).toBeInstanceOf(UserError);
      expect(err.message).toContain('invalid checksum');
      expect(seen).toEqual([]);
    },
  );

  test('404 is a BuildError naming the URL and the status, and leaves no file behind', async () => {
    const err = await thrown(() => fetchRemoteSource(`${base}/missing.txt`, { tmpDir }));
    expect(err).toBeInstanceOf(BuildError);
    expect(err.message).toBe(`ADD failed: ${base}/missing.txt: server responded with HTTP 404 Not Found`);
    expect(fs.readdirSync(tmpDir)).toEqual([]);
  });

  test('500 is a BuildError too', async () => {
    routes.set('/boom', (_req, res) => res.writeHead(500).end('oops'));
    const err = await thrown(() => fetchRemoteSource(`${base}/boom`, { tmpDir }));
    expect(err).toBeInstanceOf(BuildError);
    expect(err.message).toContain('HTTP 500');
  });

  test('redirects are followed; the file is named after the URL that was asked for', async () => {
    routes.set('/latest/tool.sh', (_req, res) => res.writeHead(302, { location: '/r2' }).end());
    routes.set('/r2', (_req, res) => res.writeHead(301, { location: `${base}/store/blob?id=7` }).end());
    serve('/store/blob', '#!/bin/sh\n');
    const got = await fetchRemoteSource(`${base}/latest/tool.sh`, { tmpDir });
    expect(got.fileName).toBe('tool.sh');
    expect(fs.readFileSync(got.path, 'utf8')).toBe('#!/bin/sh\n');
    expect(seen.map((r) => r.url)).toEqual(['/latest/tool.sh', '/r2', '/store/blob?id=7']);
  });

  test('a URL with an empty path gives __unnamed__', async () => {
    serve('/', 'index');
    expect((await fetchRemoteSource(`${base}/`, { tmpDir })).fileName).toBe(UNNAMED_REMOTE_FILE);
    expect((await fetchRemoteSource(base, { tmpDir })).fileName).toBe(UNNAMED_REMOTE_FILE);
  });

  test.each([
    ['Sun, 06 Nov 1994 08:49:37 GMT', 784111777],
    ['Sunday, 06-Nov-94 08:49:37 GMT', 784111777],
    ['Sun Nov  6 08:49:37 1994', 784111777],
    ['Thu, 01 Jan 1970 00:00:00 GMT', 0],
    ['Wed, 21 Oct 2015 07:28:00 GMT', 1445412480],
  ])('Last-Modified %p → mtime %p (seconds, UTC)', async (lastModified, mtime) => {
    serve('/f', 'x', { 'last-modified': lastModified });
    expect((await fetchRemoteSource(`${base}/f`, { tmpDir })).mtime).toBe(mtime);
  });

  test.each([
    'yesterday',
    'Sun, 30 Feb 1994 08:49:37 GMT',
    '1994-11-06T08:49:37Z',
    'Sun, 06 Nov 1994 08:49:37 PST',
  ])('an unparseable Last-Modified %p gives no mtime', async (lastModified) => {
    serve('/f', 'x', { 'last-modified': lastModified });
    const got = await fetchRemoteSource(`${base}/f`, { tmpDir });
    expect(got).not.toHaveProperty('mtime');
  });

  test('asks for gzip only, and stores gzip-encoded content decoded, as Go’s client (and so docker) does', async () => {
    const body = 'plain text, sent compressed\n'.repeat(100);
    serve('/z.txt', gzipSync(body), { 'content-encoding': 'gzip' });
    const got = await fetchRemoteSource(`${base}/z.txt`, { tmpDir });
    expect(seen[0].headers['accept-encoding']).toBe('gzip');
    expect(fs.readFileSync(got.path, 'utf8')).toBe(body);
    expect(got.sha256).toBe(sha256(body));
  });

  test('credentials in the URL are sent as basic auth, and never shown in messages', async () => {
    routes.set('/private', (req, res) => res.writeHead(403, 'Forbidden').end(req.headers.authorization));
    const url = `${base.replace('://', '://alice:s3cr%40t@')}/private`;
    const err = await thrown(() => fetchRemoteSource(url, { tmpDir }));
    expect(seen[0].headers.authorization).toBe(`Basic ${Buffer.from('alice:s3cr@t').toString('base64')}`);
    expect(err.message).toBe(
      `ADD failed: ${base.replace('://', '://alice:xxxxx@')}/private: server responded with HTTP 403 Forbidden`,
    );
  });

  test.each(['ftp://example.com/file.txt', 'file:///etc/passwd', 'not a url'])(
    '%p is a UserError: only http and https',
    async (url) => {
      const err = await thrown(() => fetchRemoteSource(url, { tmpDir }));
      expect(err).toBeInstanceOf(UserError);
      expect((err as UserError).exitCode).toBe(2);
    },
  );

  test('a refused connection is a BuildError naming the URL', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const err = await thrown(() => fetchRemoteSource(`http://127.0.0.1:${port}/x`, { tmpDir }));
    expect(err).toBeInstanceOf(BuildError);
    expect(err.message).toContain(`ADD failed: cannot fetch http://127.0.0.1:${port}/x: `);
    expect(err.message).toContain('ECONNREFUSED');
  });

  test('timeoutMs covers the body too: a stalled download is a BuildError and leaves no file', async () => {
    routes.set('/stall', (_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('only the start');
    });
    const err = await thrown(() => fetchRemoteSource(`${base}/stall`, { tmpDir, timeoutMs: 200 }));
    expect(err).toBeInstanceOf(BuildError);
    expect(err.message).toBe(`ADD failed: timed out after 200 ms fetching ${base}/stall`);
    expect(fs.readdirSync(tmpDir)).toEqual([]);
  });

  test('a body cut short is a BuildError and leaves no file', async () => {
    routes.set('/cut', (req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('only the start', () => req.socket.destroy());
    });
    const err = await thrown(() => fetchRemoteSource(`${base}/cut`, { tmpDir }));
    expect(err).toBeInstanceOf(BuildError);
    expect(err.message).toContain(`ADD failed: cannot download ${base}/cut: `);
    expect(fs.readdirSync(tmpDir)).toEqual([]);
  });

  test('tmpDir is created when missing', async () => {
    serve('/a', 'a');
    const nested = path.join(tmpDir, 'x', 'y');
    const got = await fetchRemoteSource(`${base}/a`, { tmpDir: nested });
    expect(path.dirname(got.path)).toBe(nested);
  });
});

describe('remoteFileName (BuildKit’s rule for the name of an ADDed URL)', () => {
  test.each([
    ['http://h/', UNNAMED_REMOTE_FILE],
    ['http://h', UNNAMED_REMOTE_FILE],
    ['https://h//', UNNAMED_REMOTE_FILE],
    ['http://h/?name=x.txt', UNNAMED_REMOTE_FILE],
    ['http://h/a/b.tar.gz?x=1', 'b.tar.gz'],
    ['http://h/a/b.tar.gz#frag', 'b.tar.gz'],
    ['http://h/a/b/', 'b'],
    ['http://h/dir/my%20file.txt', 'my file.txt'],
    ['http://h/a/..%2F..', UNNAMED_REMOTE_FILE],
    ['http://h/bad%zzescape', UNNAMED_REMOTE_FILE],
    ['not a url', UNNAMED_REMOTE_FILE],
  ])('%p → %p', (url, name) => {
    expect(remoteFileName(url)).toBe(name);
  });
});
