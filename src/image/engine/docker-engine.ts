/**
 * The local docker engine, reached through its API socket as buildx's `--load` reaches it (no docker CLI needed):
 * `DOCKER_HOST` (`unix:///path` or `tcp://host:port`, plain HTTP) or `/var/run/docker.sock`. Two calls: what an
 * image of a name holds already (`GET /images/{name}/json`: its layers' diff_ids), and loading a docker archive
 * (`POST /images/load`), streamed from the store without a temp file.
 */
import * as http from 'node:http';
import type { Readable } from 'node:stream';
import { UserError } from '../../errors';
import { ImageFormatError } from '../errors';

export interface EngineEndpoint {
  /** As the user would write it, for messages. */
  label: string;
  socketPath?: string;
  host?: string;
  port?: number;
}

const DEFAULT_SOCKET = '/var/run/docker.sock';

/** Where the docker engine is: `DOCKER_HOST` if set, else the default socket. */
export function dockerEndpoint(dockerHost = process.env.DOCKER_HOST): EngineEndpoint {
  if (dockerHost === undefined || dockerHost === '')
    return { label: `unix://${DEFAULT_SOCKET}`, socketPath: DEFAULT_SOCKET };
  if (dockerHost.startsWith('unix://'))
    return { label: dockerHost, socketPath: dockerHost.slice('unix://'.length) };
  const tcp = /^(?:tcp|http):\/\/([^:/]+|\[[^\]]+\]):(\d+)\/?$/.exec(dockerHost);
  if (tcp) return { label: dockerHost, host: tcp[1]?.replace(/^\[|\]$/g, ''), port: Number(tcp[2]) };
  throw new UserError(
    `--load: DOCKER_HOST=${dockerHost} is not supported (unix:///path or tcp://host:port without TLS)`,
  );
}

interface EngineResponse {
  status: number;
  body: string;
}

export class DockerEngine {
  constructor(readonly endpoint: EngineEndpoint = dockerEndpoint()) {}

  /** The diff_ids of the image the engine has under `name`, or undefined when it has none. */
  async imageDiffIds(name: string): Promise<string[] | undefined> {
    const res = await this.request('GET', `/images/${encodeURIComponent(name)}/json`);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw this.failure('image inspect', res);
    let layers: unknown;
    try {
      layers = (JSON.parse(res.body) as { RootFS?: { Layers?: unknown } } | null)?.RootFS?.Layers;
    } catch {
      throw new ImageFormatError(`--load: docker engine image inspect of ${name} did not answer JSON`);
    }
    return Array.isArray(layers) ? layers.filter((l): l is string => typeof l === 'string') : [];
  }

  /** Loads a docker archive; returns the engine's "Loaded image: …" lines. */
  async load(archive: Readable): Promise<string[]> {
    const res = await this.request('POST', '/images/load?quiet=1', archive, 'application/x-tar');
    if (res.status !== 200) throw this.failure('load', res);
    const loaded: string[] = [];
    // A JSON message stream: progress and result lines, and an error line when the load failed part-way.
    for (const line of res.body.split('\n')) {
      if (line.trim() === '') continue;
      let message: { stream?: unknown; error?: unknown };
      try {
        message = JSON.parse(line) as { stream?: unknown; error?: unknown };
      } catch {
        continue;
      }
      if (typeof message.error === 'string') {
        throw new ImageFormatError(`--load: the docker engine refused the image: ${message.error}`);
      }
      if (typeof message.stream === 'string' && message.stream.trim() !== '')
        loaded.push(message.stream.trim());
    }
    return loaded;
  }

  private failure(what: string, res: EngineResponse): Error {
    let message = res.body.trim();
    try {
      const parsed = JSON.parse(res.body) as { message?: unknown };
      if (typeof parsed.message === 'string') message = parsed.message;
    } catch {
      // not JSON: the body as it came
    }
    return new ImageFormatError(`--load: docker engine ${what} failed (HTTP ${res.status}): ${message}`);
  }

  private request(
    method: string,
    urlPath: string,
    body?: Readable,
    contentType?: string,
  ): Promise<EngineResponse> {
    const { socketPath, host, port, label } = this.endpoint;
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          method,
          path: `/v1.41${urlPath}`,
          ...(socketPath !== undefined ? { socketPath } : { host, port }),
          headers: { Host: 'docker', ...(contentType ? { 'Content-Type': contentType } : {}) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'EACCES') {
          reject(
            new UserError(
              `--load: no docker engine answers at ${label} (${err.code}); start dockerd or set DOCKER_HOST`,
            ),
          );
        } else reject(err);
      });
      if (body === undefined) req.end();
      else {
        body.on('error', (err) => req.destroy(err));
        body.pipe(req);
      }
    });
  }
}
