/**
 * Registry authentication, learned from the registry itself: the first request goes out anonymously; a 401
 * names a scheme in `WWW-Authenticate`, and from then on every request to that registry carries it up front.
 *
 * - Basic: the docker-config credentials, base64'd.
 * - Bearer (the distribution token flow): GET the challenge's `realm` with `service` and one `scope` per
 *   repository we need (`repository:team/app:pull,push`), with basic credentials when we have them (else an
 *   anonymous token, as Docker Hub hands out for public images); or POST an OAuth2 refresh token when the
 *   config holds an identity token. Tokens are cached per registry and scope set until shortly before
 *   they expire, and concurrent requests for the same token share one fetch.
 */
import { RegistryAuthError, RegistryError } from './errors';
import { parseChallenges, type Challenge } from './challenge';
import type { Credential, CredentialStore } from './credentials';
import type { RegistryEndpoint } from './hosts';
import { header, headerAll, readText, send, type HttpResponse } from './http';
import { parseRetryAfter } from './retry';

export type Action = 'pull' | 'push';

/** Access to one repository: what a bearer token is asked for. */
export interface Scope {
  repository: string;
  actions: readonly Action[];
}

interface CachedToken {
  header: string;
  expiresAt: number;
}

/** Tokens without `expires_in` live 60 s (the spec's default); we stop using them a little early. */
const DEFAULT_TOKEN_SECONDS = 60;
const EXPIRY_MARGIN_MS = 10_000;

export class Authenticator {
  private readonly challenges = new Map<string, Challenge>();
  private readonly tokens = new Map<string, Promise<CachedToken>>();

  constructor(
    private readonly credentials: CredentialStore,
    private readonly userAgent: string,
    private readonly timeoutMs?: number,
  ) {}

  /** The Authorization header for a request, once the registry has told us how it wants to be addressed. */
  async authorization(endpoint: RegistryEndpoint, scopes: readonly Scope[]): Promise<string | undefined> {
    const challenge = this.challenges.get(endpoint.registry);
    if (challenge === undefined) return undefined;
    if (challenge.scheme === 'basic') return basicHeader(await this.credentials.get(endpoint.registry));
    return (await this.token(endpoint, challenge, scopes)).header;
  }

  /**
   * After a 401: remember the challenge and return the header to try once more. Throws `RegistryAuthError`
   * when there is nothing better to try (no credentials, or the same ones were just refused).
   */
  async challenged(
    endpoint: RegistryEndpoint,
    res: HttpResponse,
    scopes: readonly Scope[],
    previous: string | undefined,
    serverMessage: string,
  ): Promise<string> {
    const all = parseChallenges(headerAll(res, 'www-authenticate'));
    const challenge = all.find((c) => c.scheme === 'bearer') ?? all.find((c) => c.scheme === 'basic');
    if (challenge === undefined) throw new RegistryAuthError(endpoint.registry, serverMessage);
    this.challenges.set(endpoint.registry, challenge);
    if (challenge.scheme === 'basic') {
      const cred = await this.credentials.get(endpoint.registry);
      const next = basicHeader(cred);
      if (next === undefined) throw new RegistryAuthError(endpoint.registry, noCredentials(serverMessage));
      if (next === previous) throw new RegistryAuthError(endpoint.registry, serverMessage);
      return next;
    }
    const wanted = withChallengeScope(scopes, challenge.params.scope);
    const key = tokenKey(endpoint, wanted);
    const cached = await this.tokens.get(key)?.catch(() => undefined);
    if (cached?.header === previous) this.tokens.delete(key);
    const next = (await this.token(endpoint, challenge, wanted)).header;
    if (next === previous) throw await this.refused(endpoint, serverMessage);
    return next;
  }

  /** The error for a registry that still says 401 after we answered its challenge. */
  async refused(endpoint: RegistryEndpoint, serverMessage: string): Promise<RegistryAuthError> {
    const cred = await this.credentials.get(endpoint.registry);
    return new RegistryAuthError(
      endpoint.registry,
      cred === undefined ? noCredentials(serverMessage) : serverMessage,
    );
  }

  private token(
    endpoint: RegistryEndpoint,
    challenge: Challenge,
    scopes: readonly Scope[],
  ): Promise<CachedToken> {
    const key = tokenKey(endpoint, scopes);
    const hit = this.tokens.get(key);
    if (hit !== undefined) {
      const usable = hit.then((t) => t.expiresAt > Date.now());
      return usable.then(
        (ok) => (ok ? hit : this.refresh(key, endpoint, challenge, scopes)),
        () => this.refresh(key, endpoint, challenge, scopes),
      );
    }
    return this.refresh(key, endpoint, challenge, scopes);
  }

  private refresh(
    key: string,
    endpoint: RegistryEndpoint,
    challenge: Challenge,
    scopes: readonly Scope[],
  ): Promise<CachedToken> {
    const pending = this.fetchToken(endpoint, challenge, scopes);
    this.tokens.set(key, pending);
    pending.catch(() => {
      if (this.tokens.get(key) === pending) this.tokens.delete(key);
    });
    return pending;
  }

  private async fetchToken(
    endpoint: RegistryEndpoint,
    challenge: Challenge,
    scopes: readonly Scope[],
  ): Promise<CachedToken> {
    const cred = await this.credentials.get(endpoint.registry);
    if (cred?.registryToken !== undefined) {
      return { header: `Bearer ${cred.registryToken}`, expiresAt: Number.POSITIVE_INFINITY };
    }
    const realm = challenge.params.realm;
    if (realm === undefined || realm === '') {
      throw new RegistryAuthError(endpoint.registry, 'the bearer challenge names no token realm');
    }
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RegistryAuthError(endpoint.registry, `the token realm ${JSON.stringify(realm)} is not a URL`);
    }
    const service = challenge.params.service;
    const scopeStrings = scopes.map(formatScope);
    const headers: Record<string, string> = { 'User-Agent': this.userAgent, Accept: 'application/json' };
    let res: HttpResponse;
    if (cred?.identityToken !== undefined) {
      // OAuth2 refresh-token grant, as Docker does for identity tokens.
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: cred.identityToken,
        client_id: 'tsbuild',
      });
      if (service !== undefined) form.set('service', service);
      if (scopeStrings.length > 0) form.set('scope', scopeStrings.join(' '));
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      res = await send({
        method: 'POST',
        url,
        headers,
        body: Buffer.from(form.toString()),
        verifyTls: endpoint.verifyTls,
        timeoutMs: this.timeoutMs,
      });
    } else {
      if (service !== undefined) url.searchParams.set('service', service);
      for (const s of scopeStrings) url.searchParams.append('scope', s);
      const basic = basicHeader(cred);
      if (basic !== undefined) headers.Authorization = basic;
      res = await send({
        method: 'GET',
        url,
        headers,
        verifyTls: endpoint.verifyTls,
        timeoutMs: this.timeoutMs,
      });
    }
    const text = await readText(res.body, 1 << 20);
    if (res.status === 401 || res.status === 403) {
      throw new RegistryAuthError(
        endpoint.registry,
        errorMessage(text) ?? `the token server refused the credentials (HTTP ${res.status})`,
      );
    }
    if (res.status >= 500 || res.status === 429) {
      throw new RegistryError(`token server ${url.host} answered HTTP ${res.status}`, {
        retryable: true,
        retryAfterMs: parseRetryAfter(header(res, 'retry-after')),
      });
    }
    if (res.status !== 200) {
      throw new RegistryAuthError(
        endpoint.registry,
        `the token server answered HTTP ${res.status}: ${errorMessage(text) ?? text.slice(0, 200)}`,
      );
    }
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new RegistryAuthError(endpoint.registry, 'the token server did not answer with JSON');
    }
    const token = typeof body.token === 'string' && body.token !== '' ? body.token : body.access_token;
    if (typeof token !== 'string' || token === '') {
      throw new RegistryAuthError(endpoint.registry, 'the token server answered without a token');
    }
    const seconds =
      typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_TOKEN_SECONDS;
    return {
      header: `Bearer ${token}`,
      expiresAt: Date.now() + Math.max(0, seconds * 1000 - EXPIRY_MARGIN_MS),
    };
  }
}

export function formatScope(scope: Scope): string {
  return `repository:${scope.repository}:${scope.actions.join(',')}`;
}

function tokenKey(endpoint: RegistryEndpoint, scopes: readonly Scope[]): string {
  return `${endpoint.registry} ${scopes.map(formatScope).sort().join(' ')}`;
}

/** A bearer challenge may name the scope it wants (`insufficient_scope`); ask for ours and that one. */
function withChallengeScope(scopes: readonly Scope[], wanted: string | undefined): Scope[] {
  const out = [...scopes];
  for (const s of (wanted ?? '').split(' ')) {
    const m = /^repository:(.+):([a-z,*]+)$/.exec(s);
    if (m === null) continue;
    const actions = (m[2] as string).split(',').filter((a): a is Action => a === 'pull' || a === 'push');
    if (!out.some((o) => o.repository === m[1] && actions.every((a) => o.actions.includes(a)))) {
      out.push({ repository: m[1] as string, actions });
    }
  }
  return out;
}

function basicHeader(cred: Credential | undefined): string | undefined {
  if (cred?.username === undefined) return undefined;
  return `Basic ${Buffer.from(`${cred.username}:${cred.password ?? ''}`).toString('base64')}`;
}

function noCredentials(serverMessage: string): string {
  return `${serverMessage} (no credentials for it in the docker config)`;
}

/**
 * The human part of a registry error body: distribution's `{"errors":[{"code","message","detail"}]}`, or a
 * token server's `{"details": …}` / `{"error": …}`.
 */
export function errorMessage(text: string): string | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    const line = text.trim().split('\n')[0]?.trim();
    return line === undefined || line === '' || line.startsWith('<') ? undefined : line.slice(0, 200);
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (Array.isArray(o.errors)) {
    const parts = o.errors
      .map((e: unknown) => {
        if (typeof e !== 'object' || e === null) return undefined;
        const r = e as Record<string, unknown>;
        return typeof r.message === 'string' && r.message !== ''
          ? r.message
          : typeof r.code === 'string'
            ? r.code.toLowerCase().replace(/_/g, ' ')
            : undefined;
      })
      .filter((m): m is string => m !== undefined);
    if (parts.length > 0) return parts.join('; ');
  }
  for (const k of ['details', 'error_description', 'error', 'message']) {
    if (typeof o[k] === 'string' && o[k] !== '') return o[k] as string;
  }
  return undefined;
}
