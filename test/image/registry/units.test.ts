/** The registry client's small parts: challenges, endpoints, platform choice, backoff, error bodies. */
import { errorMessage, formatScope } from '../../../src/image/registry/auth';
import { parseChallenges } from '../../../src/image/registry/challenge';
import { hostWithoutPort, isLoopbackRegistry, registryEndpoint } from '../../../src/image/registry/hosts';
import { selectManifest, platformMatches } from '../../../src/image/registry/platform-match';
import { RegistryError } from '../../../src/image/registry/errors';
import { backoffDelay, parseRetryAfter, withRetries } from '../../../src/image/registry/retry';
import { MediaType, type ImageIndex } from '../../../src/image/oci-types';

describe('parseChallenges', () => {
  it('reads a bearer challenge with quoted parameters', () => {
    expect(
      parseChallenges([
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull"',
      ]),
    ).toEqual([
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/ubuntu:pull',
        },
      },
    ]);
  });

  it('reads several challenges in one header, unquoted values and escapes', () => {
    expect(
      parseChallenges(['Basic realm="a \\"b\\"", Bearer realm=https://x/t, error="insufficient_scope"']),
    ).toEqual([
      { scheme: 'basic', params: { realm: 'a "b"' } },
      { scheme: 'bearer', params: { realm: 'https://x/t', error: 'insufficient_scope' } },
    ]);
  });

  it('keeps challenges from repeated headers apart', () => {
    expect(parseChallenges(['Basic realm="r"', 'Bearer realm="t"']).map((c) => c.scheme)).toEqual([
      'basic',
      'bearer',
    ]);
  });
});

describe('registryEndpoint', () => {
  it('serves Docker Hub from registry-1.docker.io over verified HTTPS', () => {
    expect(registryEndpoint('docker.io')).toEqual({
      registry: 'docker.io',
      host: 'registry-1.docker.io',
      schemes: ['https'],
      verifyTls: true,
    });
  });

  it('lets loopback registries speak plain HTTP', () => {
    for (const r of [
      'localhost:5000',
      '127.0.0.1:5000',
      '127.0.0.2:5000',
      '127.255.1.9',
      '[::1]:5000',
      'localhost',
    ]) {
      expect(isLoopbackRegistry(r)).toBe(true);
      expect(registryEndpoint(r).schemes).toEqual(['http']);
    }
    for (const r of ['128.0.0.1:5000', '127.0.0.256', '127.0.0.1.example', 'x127.0.0.1']) {
      expect(isLoopbackRegistry(r)).toBe(false);
    }
    expect(registryEndpoint('registry.example:5000').schemes).toEqual(['https']);
  });

  it('tries HTTPS without verification, then HTTP, for --insecure-registry hosts', () => {
    const insecure = { schemes: ['https', 'http'], verifyTls: false };
    expect(registryEndpoint('reg.example:5000', ['reg.example:5000'])).toMatchObject(insecure);
    expect(registryEndpoint('reg.example:5000', ['reg.example'])).toMatchObject(insecure); // any port
    expect(registryEndpoint('reg.example:5000', ['http://reg.example:5000/'])).toMatchObject(insecure);
    expect(registryEndpoint('reg.example:5000', ['reg.example:6000']).schemes).toEqual(['https']);
  });

  it('splits ports off hosts, IPv6 included', () => {
    expect(hostWithoutPort('[::1]:5000')).toBe('::1');
    expect(hostWithoutPort('host:5000')).toBe('host');
    expect(hostWithoutPort('::1')).toBe('::1');
  });
});

describe('platform choice', () => {
  const d = (digest: string, platform?: { os: string; architecture: string; variant?: string }) => ({
    mediaType: MediaType.ociManifest,
    digest: `sha256:${digest.repeat(64)}` as const,
    size: 1,
    ...(platform ? { platform } : {}),
  });
  const index: ImageIndex = {
    schemaVersion: 2,
    manifests: [
      d('a', { os: 'linux', architecture: 'amd64' }),
      d('b', { os: 'linux', architecture: 'arm', variant: 'v6' }),
      d('c', { os: 'linux', architecture: 'arm', variant: 'v7' }),
      d('d', { os: 'linux', architecture: 'arm64', variant: 'v8' }),
      d('e', { os: 'unknown', architecture: 'unknown' }),
    ],
  };

  it('matches os and architecture, normalising aliases', () => {
    expect(selectManifest(index, { os: 'linux', architecture: 'x86_64' })?.digest).toMatch(/^sha256:a/);
    expect(selectManifest(index, { os: 'linux', architecture: 'aarch64' })?.digest).toMatch(/^sha256:d/);
    expect(selectManifest(index, { os: 'windows', architecture: 'amd64' })).toBeUndefined();
  });

  it('reads arm without a variant as v7 and arm64/v8 as arm64', () => {
    expect(selectManifest(index, { os: 'linux', architecture: 'arm' })?.digest).toMatch(/^sha256:c/);
    expect(selectManifest(index, { os: 'linux', architecture: 'arm', variant: 'v6' })?.digest).toMatch(
      /^sha256:b/,
    );
    expect(
      platformMatches(
        { os: 'linux', architecture: 'arm64' },
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
      ),
    ).toBe(true);
  });
});

describe('retries', () => {
  const policy = { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 };

  it('repeats retryable errors and reports each retry', async () => {
    let calls = 0;
    const notices: number[] = [];
    const result = await withRetries(
      policy,
      async () => {
        if (++calls < 3) throw new RegistryError('flaky', { retryable: true });
        return 'ok';
      },
      (n) => notices.push(n.attempt),
    );
    expect(result).toBe('ok');
    expect(notices).toEqual([1, 2]);
  });

  it('gives up after the bounded number of attempts, saying so', async () => {
    await expect(
      withRetries(policy, async () => {
        throw new RegistryError('down', { retryable: true });
      }),
    ).rejects.toThrow('down (gave up after 3 attempts)');
  });

  it('never repeats other errors', async () => {
    let calls = 0;
    await expect(
      withRetries(policy, async () => {
        calls++;
        throw new RegistryError('bad request');
      }),
    ).rejects.toThrow('bad request');
    expect(calls).toBe(1);
  });

  it('backs off exponentially with jitter, up to the cap, honouring Retry-After', () => {
    const p = { attempts: 5, baseDelayMs: 100, maxDelayMs: 1000 };
    for (let i = 0; i < 20; i++) {
      expect(backoffDelay(p, 1)).toBeGreaterThanOrEqual(75);
      expect(backoffDelay(p, 1)).toBeLessThanOrEqual(125);
      expect(backoffDelay(p, 3)).toBeGreaterThanOrEqual(300);
      expect(backoffDelay(p, 10)).toBe(1000);
    }
    expect(backoffDelay(p, 1, 800)).toBe(800);
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

describe('errorMessage', () => {
  it('reads distribution error bodies and token server bodies', () => {
    expect(
      errorMessage(
        '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}',
      ),
    ).toBe('manifest unknown');
    expect(errorMessage('{"errors":[{"code":"DENIED"}]}')).toBe('denied');
    expect(errorMessage('{"details":"incorrect username or password"}')).toBe(
      'incorrect username or password',
    );
    expect(errorMessage('<html>nope</html>')).toBeUndefined();
    expect(errorMessage('')).toBeUndefined();
  });

  it('formats scopes as the token spec does', () => {
    expect(formatScope({ repository: 'team/app', actions: ['pull', 'push'] })).toBe(
      'repository:team/app:pull,push',
    );
  });
});
