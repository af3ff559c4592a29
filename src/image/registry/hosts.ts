/**
 * Where a registry named in a reference actually lives, and how to talk to it. Docker Hub is named
 * `docker.io` but served from `registry-1.docker.io`. Loopback registries speak plain HTTP, as Docker allows
 * without configuration; a host listed with `--insecure-registry` gets HTTPS without certificate checks and
 * falls back to plain HTTP when it does not speak TLS at all (Docker's rule for insecure registries).
 * Every other registry gets verified HTTPS only.
 */

export const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_HOST = 'registry-1.docker.io';

export type Scheme = 'http' | 'https';

export interface RegistryEndpoint {
  /** The registry as a reference names it: `docker.io`, `127.0.0.1:5000`; used in messages and auth. */
  registry: string;
  /** host[:port] to connect to. */
  host: string;
  /** Schemes to try, in order; a later one is used only when the earlier one fails the TLS handshake. */
  schemes: readonly Scheme[];
  /** Whether HTTPS checks the server's certificate. */
  verifyTls: boolean;
}

/** An IPv4 address in 127.0.0.0/8, written out. */
const LOOPBACK_V4 =
  /^127\.(25[0-5]|2[0-4]\d|1?\d?\d)\.(25[0-5]|2[0-4]\d|1?\d?\d)\.(25[0-5]|2[0-4]\d|1?\d?\d)$/;

/**
 * localhost, any address of 127.0.0.0/8 and ::1, with or without a port: the hosts Docker lets speak plain HTTP
 * (its default insecure range is 127.0.0.0/8). Names other than localhost are not resolved to find out.
 */
export function isLoopbackRegistry(registry: string): boolean {
  const host = hostWithoutPort(registry).toLowerCase();
  return host === 'localhost' || host === '::1' || LOOPBACK_V4.test(host);
}

export function registryEndpoint(
  registry: string,
  insecureRegistries: readonly string[] = [],
): RegistryEndpoint {
  const host = registry === DOCKER_HUB ? DOCKER_HUB_HOST : registry;
  if (isLoopbackRegistry(registry)) return { registry, host, schemes: ['http'], verifyTls: false };
  if (isListed(registry, insecureRegistries)) {
    return { registry, host, schemes: ['https', 'http'], verifyTls: false };
  }
  return { registry, host, schemes: ['https'], verifyTls: true };
}

/** `HOST` in the list matches the registry with any port; `HOST:PORT` matches only that port. */
function isListed(registry: string, list: readonly string[]): boolean {
  const wanted = registry.toLowerCase();
  return list.some((entry) => {
    const e = entry
      .trim()
      .toLowerCase()
      .replace(/^https?:\/\//, '')
      .replace(/\/+$/, '');
    return e === wanted || (hostWithoutPort(e) === e && e === hostWithoutPort(wanted));
  });
}

/** `[::1]:5000` → `::1`, `host:5000` → `host`, `host` → `host`. */
export function hostWithoutPort(hostPort: string): string {
  if (hostPort.startsWith('[')) {
    const end = hostPort.indexOf(']');
    return end < 0 ? hostPort : hostPort.slice(1, end);
  }
  const colon = hostPort.lastIndexOf(':');
  // More than one colon without brackets is a bare IPv6 address, which has no port.
  if (colon < 0 || hostPort.indexOf(':') !== colon) return hostPort;
  return hostPort.slice(0, colon);
}
