/**
 * One authenticated request to a registry's `/v2/` API: the credentials the registry asked for (learnt from a
 * 401 challenge and tried once more), the scheme that works (an insecure registry may speak plain HTTP, which
 * is remembered per registry), and the registry's trouble (5xx, 429) turned into retryable errors. It never
 * retries on its own: `client.ts` repeats whole operations.
 */
import { Readable } from 'node:stream';
import { Authenticator, errorMessage, type Scope } from './auth';
import { DockerConfigCredentials, type CredentialStore } from './credentials';
import { RegistryError } from './errors';
import { registryEndpoint, type RegistryEndpoint, type Scheme } from './hosts';
import { TlsHandshakeError, header, readText, send, type HttpResponse, type Method } from './http';
import { parseRetryAfter } from './retry';

export interface TransportOptions {
  /** Registries (`host` or `host:port`) reached over HTTPS without certificate checks, or plain HTTP. */
  insecureRegistries?: readonly string[];
  /** Where credentials come from (default: the docker config file and its credential helpers). */
  credentials?: CredentialStore;
  /** Idle socket timeout per request (default 60 s). */
  timeoutMs?: number;
  userAgent?: string;
}

/** What a 401 means when it has no body to say more (every answer to HEAD): distribution's own words. */
const UNAUTHORIZED_DEFAULT = 'authentication required';

export interface RequestSpec {
  method: Method;
  /** Path under `/v2/` (`team/app/manifests/1.0`), or an absolute URL the registry gave us (an upload). */
  path?: string;
  url?: URL;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Buffer | Readable;
  scopes: readonly Scope[];
}

export class RegistryTransport {
  private readonly auth: Authenticator;
  private readonly insecure: readonly string[];
  /** The scheme that worked, per registry (an insecure registry may turn out to speak plain HTTP). */
  private readonly schemes = new Map<string, Scheme>();

  constructor(private readonly options: TransportOptions = {}) {
    const credentials = options.credentials ?? new DockerConfigCredentials();
    this.auth = new Authenticator(credentials, this.userAgent, options.timeoutMs);
    this.insecure = options.insecureRegistries ?? [];
  }

  private get userAgent(): string {
    return this.options.userAgent ?? 'tsbuild';
  }

  endpoint(registry: string): RegistryEndpoint {
    return registryEndpoint(registry, this.insecure);
  }

  /**
   * One request with auth: anonymous (or with what the registry asked for before); on a 401, learn the
   * challenge and try once more. A body that is a stream cannot be sent twice: a 401 on it becomes a
   * retryable error, and the retried operation starts with the right credentials.
   */
  async request(registry: string, spec: RequestSpec): Promise<HttpResponse> {
    const endpoint = this.endpoint(registry);
    const first = await this.auth.authorization(endpoint, spec.scopes);
    const res = await this.sendTo(endpoint, spec, first);
    if (res.status !== 401) return checkTransient(res, endpoint);
    const message = errorMessage(await readText(res.body)) ?? UNAUTHORIZED_DEFAULT;
    const second = await this.auth.challenged(endpoint, res, spec.scopes, first, message);
    if (spec.body instanceof Readable) {
      spec.body.destroy();
      throw new RegistryError(`${registry} asked for credentials during an upload`, { retryable: true });
    }
    const again = await this.sendTo(endpoint, spec, second);
    if (again.status !== 401) return checkTransient(again, endpoint);
    const refused = errorMessage(await readText(again.body)) ?? UNAUTHORIZED_DEFAULT;
    throw await this.auth.refused(endpoint, refused);
  }

  private async sendTo(
    endpoint: RegistryEndpoint,
    spec: RequestSpec,
    authorization: string | undefined,
  ): Promise<HttpResponse> {
    const headers: Record<string, string> = { 'User-Agent': this.userAgent, ...spec.headers };
    if (authorization !== undefined) headers.Authorization = authorization;
    const schemes = this.schemesFor(endpoint);
    for (const [i, scheme] of schemes.entries()) {
      const url = spec.url ?? new URL(`${scheme}://${endpoint.host}/v2/${spec.path ?? ''}`);
      for (const [k, v] of Object.entries(spec.query ?? {})) url.searchParams.set(k, v);
      try {
        const res = await send({
          method: spec.method,
          url,
          headers,
          body: spec.body,
          verifyTls: endpoint.verifyTls,
          timeoutMs: this.options.timeoutMs,
        });
        if (spec.url === undefined) this.schemes.set(endpoint.registry, scheme);
        return res;
      } catch (err) {
        // An insecure registry that does not speak TLS: Docker falls back to plain HTTP, and so do we.
        const fallback = err instanceof TlsHandshakeError && spec.url === undefined && i + 1 < schemes.length;
        if (!fallback) throw hintTls(err, endpoint);
      }
    }
    // Every endpoint has at least one scheme (hosts.ts), and the last one's failure is thrown above.
    throw new RegistryError(`${endpoint.registry}: no scheme (https, http) to reach it by`);
  }

  private schemesFor(endpoint: RegistryEndpoint): readonly Scheme[] {
    const known = this.schemes.get(endpoint.registry);
    return known === undefined ? endpoint.schemes : [known];
  }
}

/** 5xx and 429 are the registry's trouble, not ours: a retryable error. Anything else goes to the caller. */
async function checkTransient(res: HttpResponse, endpoint: RegistryEndpoint): Promise<HttpResponse> {
  if (res.status < 500 && res.status !== 429) return res;
  const message = errorMessage(await readText(res.body).catch(() => '')) ?? '';
  return Promise.reject(
    new RegistryError(
      `${endpoint.registry} answered HTTP ${res.status} to ${res.url.pathname}${message ? `: ${message}` : ''}`,
      {
        retryable: true,
        retryAfterMs: parseRetryAfter(header(res, 'retry-after')),
      },
    ),
  );
}

/** A one-line error for a status the operation did not expect, with the registry's own words. */
export async function unexpected(res: HttpResponse, what: string): Promise<RegistryError> {
  const message = errorMessage(await readText(res.body).catch(() => ''));
  const said = message === undefined ? '' : `: ${message}`;
  if (res.status === 403) return new RegistryError(`${what}: access denied${said}`);
  return new RegistryError(`${what}: unexpected HTTP ${res.status}${said}`);
}

function hintTls(err: unknown, endpoint: RegistryEndpoint): unknown {
  if (err instanceof TlsHandshakeError && endpoint.schemes.length === 1 && endpoint.schemes[0] === 'https') {
    return new RegistryError(
      `${err.message}; if ${endpoint.registry} serves plain HTTP, pass --insecure-registry ${endpoint.registry}`,
    );
  }
  return err;
}
