/**
 * A small HTTP proxy in front of a real registry that misbehaves on request: answers 500 without asking
 * the registry, serves a body with one byte flipped (a wrong digest), cuts a response half way, resets the
 * connection (a TCP RST) right after the headers and a few bytes or half way through the body, drips the body a byte at a time, or drops
 * the connection half way through an upload. The Host header is passed through, so the registry's upload
 * Locations point back at the proxy.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault =
  | 'status-500'
  | 'corrupt-body'
  | 'truncate-body'
  | 'reset-after-headers'
  | 'reset-mid-body'
  | 'drip'
  | 'drop-upload';

export interface FaultProxy {
  host: string;
  /** Decides per request; undefined passes it through untouched. */
  rule?: (method: string, url: string) => Fault | undefined;
  /** `METHOD /path` of every request seen, faulty or not. */
  seen: string[];
  close(): Promise<void>;
}

export async function startFaultProxy(upstreamPort: number): Promise<FaultProxy> {
  const proxy: FaultProxy = { host: '', seen: [], close: async () => undefined };
  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    proxy.seen.push(`${method} ${url.split('?')[0]}`);
    const fault = proxy.rule?.(method, url);
    if (fault === 'status-500') {
      req.resume();
      res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNKNOWN', message: 'injected failure' }] }));
      return;
    }
    const upstream = http.request(
      { host: '127.0.0.1', port: upstreamPort, method, path: url, headers: req.headers },
      (ures) => {
        res.writeHead(ures.statusCode ?? 502, ures.headers);
        if (fault === 'corrupt-body') {
          let first = true;
          ures.on('data', (chunk: Buffer) => {
            if (first && chunk.length > 0) {
              chunk[0] = (chunk[0] as number) ^ 0xff;
              first = false;
            }
            res.write(chunk);
          });
          ures.on('end', () => res.end());
        } else if (fault === 'truncate-body') {
          let sent = 0;
          const limit = Number(ures.headers['content-length'] ?? 0) / 2;
          ures.on('data', (chunk: Buffer) => {
            sent += chunk.length;
            if (sent > limit) {
              res.write(chunk.subarray(0, Math.max(0, chunk.length - (sent - limit))));
              ures.destroy();
              res.socket?.destroy();
              return;
            }
            res.write(chunk);
          });
        } else if (fault === 'drip') {
          // The whole body, one byte every 50 ms: never idle long enough for a socket timeout.
          const chunks: Buffer[] = [];
          ures.on('data', (c: Buffer) => chunks.push(c));
          ures.on('end', () => {
            const body = Buffer.concat(chunks);
            let i = 0;
            const timer = setInterval(() => {
              if (i >= body.length || res.destroyed) {
                clearInterval(timer);
                res.end();
                return;
              }
              res.write(body.subarray(i, i + 1));
              i++;
            }, 50);
            res.on('close', () => clearInterval(timer));
          });
        } else if (fault === 'reset-after-headers' || fault === 'reset-mid-body') {
          let sent = 0;
          const limit = fault === 'reset-mid-body' ? Number(ures.headers['content-length'] ?? 0) / 2 : 16;
          ures.on('data', (chunk: Buffer) => {
            if (sent + chunk.length < limit) {
              sent += chunk.length;
              res.write(chunk);
              return;
            }
            res.write(chunk.subarray(0, Math.max(0, limit - sent)), () => {
              ures.destroy();
              res.socket?.resetAndDestroy();
            });
            sent = limit;
            ures.removeAllListeners('data');
          });
        } else {
          ures.pipe(res);
        }
      },
    );
    upstream.on('error', () => res.socket?.destroy());
    if (fault === 'drop-upload') {
      let received = 0;
      req.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > 32 * 1024) {
          upstream.destroy();
          req.socket.destroy();
        } else upstream.write(chunk);
      });
      req.on('end', () => upstream.end());
      return;
    }
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy;
}
